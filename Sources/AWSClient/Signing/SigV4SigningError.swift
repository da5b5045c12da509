/// Why a request could not be signed.
public struct SigV4SigningError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An extensible category of signing failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The request has no `Host` header, or an empty one; SigV4 always signs the host.
        public static let missingHostHeader = Code("missingHostHeader")
        /// The request has more than one `Host` header, which AWS would never accept.
        public static let multipleHostHeaders = Code("multipleHostHeaders")

        /// The code's name.
        public var description: String { name }
    }

    /// The category of the failure.
    public var code: Code
    /// What went wrong and how to fix it.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
