import AWSClient
import Testing

/// How a listing's pages are followed and joined (the pages are made here; the clients' tests page the simulator).
struct PaginatedTests {
    /// A listing whose pages are `pages`, each pointing at the next by its position.
    static func listing(_ pages: [[Int]], repeatToken: Bool = false) -> Paginated<Int> {
        Paginated(service: "test", operation: "List") { token throws(AWSClientError) in
            let index = token.flatMap { Int($0) } ?? 0
            let next = index + 1 < pages.count ? (repeatToken ? "1" : String(index + 1)) : nil
            return (pages[index], next)
        }
    }

    @Test(arguments: [
        [[1, 2, 3]],
        [[1, 2], [3, 4, 5], [6]],
        [[], [1], [], [2, 3]],
        [[]],
        Array(repeating: [7, 8], count: 40),
    ])
    func everyItemOfEveryPageInOrder(_ pages: [[Int]]) async throws {
        let all = try await Self.listing(pages).collectAll()
        #expect(all == pages.flatMap { $0 })
        // Joined into storage of the right size (give or take malloc's rounding), not doubled as pages came.
        #expect(pages.count == 1 || all.capacity <= all.count + 4)
        var iterated: [Int] = []
        for try await item in Self.listing(pages) { iterated.append(item) }
        #expect(iterated == all)
    }

    @Test func aTokenSeenBeforeStopsThePaging() async {
        await #expect(throws: AWSClientError.self) { try await Self.listing([[1], [2], [3]], repeatToken: true).collectAll() }
    }
}
