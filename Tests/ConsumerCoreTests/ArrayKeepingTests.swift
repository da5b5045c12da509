import Testing
@testable import ConsumerCore

/// `keeping`: a filter that shares the array's storage when it keeps everything.
@Suite struct ArrayKeepingTests {
    @Test func keepsEverythingWithoutACopyAndFiltersOtherwise() {
        let all = Array(0..<1_000)
        let kept = all.keeping { $0 >= 0 }
        #expect(kept == all)
        let shared = all.withUnsafeBufferPointer { a in kept.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
        #expect(shared, "a filter that keeps every element copied the storage")
        #expect(all.keeping { $0 % 2 == 0 } == all.filter { $0 % 2 == 0 })
        #expect(all.keeping { _ in false }.isEmpty)
        #expect([Int]().keeping { _ in false }.isEmpty)
    }
}
