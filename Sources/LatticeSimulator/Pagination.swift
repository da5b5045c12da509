import Foundation

/// One page of a paginated answer.
struct Page<Item: Sendable>: Sendable {
    var items: [Item]
    var nextToken: String?
}

/// Opaque next tokens: an operation, an offset and the simulator's nonce, base64-encoded, so that a token
/// from another operation or another simulator run is refused like a stale one.
struct PageToken: Sendable, Equatable {
    var operation: String
    var offset: Int
    var nonce: String
    /// Makes every issued token distinct, even two for the same offset (an empty page's and the next):
    /// AWS never hands back a token it already issued, and clients refuse one that repeats.
    var serial: Int

    var encoded: String {
        Data("v1|\(operation)|\(offset)|\(nonce)|\(serial)".utf8).base64EncodedString()
    }

    init(operation: String, offset: Int, nonce: String, serial: Int = 0) {
        self.operation = operation
        self.offset = offset
        self.nonce = nonce
        self.serial = serial
    }

    /// Decodes `text`, or nil when it is garbled.
    init?(decoding text: String) {
        guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8) else { return nil }
        let parts = decoded.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let offset = Int(parts[2]), offset >= 0, let serial = Int(parts[4]) else { return nil }
        self.init(operation: String(parts[1]), offset: offset, nonce: String(parts[3]), serial: serial)
    }
}

extension SimulatorState {
    /// Cuts `items` into the page `token` asks for, at most `pageSize` and `maxResults` long.
    ///
    /// `invalidToken` is the service's error for a token it did not issue (RAM `InvalidNextTokenException`,
    /// EC2 `InvalidPaginationToken`). Every `emptyPageEvery`-th call answers an empty page that still
    /// carries a token for the same offset.
    mutating func paginate<Item: Sendable>(
        _ items: [Item],
        operation: String,
        token: String?,
        maxResults: Int?,
        invalidToken: SimulatorAPIError
    ) throws(SimulatorAPIError) -> Page<Item> {
        var offset = 0
        if let token, !token.isEmpty {
            guard let decoded = PageToken(decoding: token), decoded.operation == operation, decoded.nonce == pageNonce else {
                throw invalidToken
            }
            offset = decoded.offset
        }
        let limit = min(pageSize, maxResults ?? pageSize)
        pagedCalls += 1
        if provisioning.emptyPageEvery > 0, pagedCalls % provisioning.emptyPageEvery == 0, offset < items.count {
            return Page(items: [], nextToken: PageToken(operation: operation, offset: offset, nonce: pageNonce, serial: pagedCalls).encoded)
        }
        let start = min(offset, items.count)
        let end = min(start + limit, items.count)
        let next = end < items.count ? PageToken(operation: operation, offset: end, nonce: pageNonce, serial: pagedCalls).encoded : nil
        return Page(items: Array(items[start..<end]), nextToken: next)
    }
}
