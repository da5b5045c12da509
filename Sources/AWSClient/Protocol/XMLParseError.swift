import Foundation

/// Why an XML document was refused, and the byte offset where the parser noticed.
public struct XMLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; opaque so that new kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case emptyDocument = "empty document"
            case unexpectedEnd = "unexpected end of document"
            case malformed = "malformed markup"
            case mismatchedTag = "mismatched tag"
            case forbiddenDeclaration = "forbidden declaration"
            case unknownEntity = "unknown entity"
            case invalidCharacter = "invalid character"
            case contentAfterRoot = "content after the root element"
            case depthLimitExceeded = "depth limit exceeded"
            case elementLimitExceeded = "element limit exceeded"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No root element at all (empty input, or only whitespace, comments and processing instructions).
        public static let emptyDocument = Code(.emptyDocument)
        /// The input stops inside markup or before the root element is closed: a truncated body.
        public static let unexpectedEnd = Code(.unexpectedEnd)
        /// Markup that is not well-formed XML.
        public static let malformed = Code(.malformed)
        /// An end tag that does not close the element that is open.
        public static let mismatchedTag = Code(.mismatchedTag)
        /// `<!DOCTYPE`, `<!ENTITY` and other declarations, refused so that no entity can be defined (XXE).
        public static let forbiddenDeclaration = Code(.forbiddenDeclaration)
        /// A reference to an entity other than the five predefined ones.
        public static let unknownEntity = Code(.unknownEntity)
        /// Invalid UTF-8, a control character, or a character reference to a non-XML character.
        public static let invalidCharacter = Code(.invalidCharacter)
        /// Text or a second element after the root element.
        public static let contentAfterRoot = Code(.contentAfterRoot)
        /// Elements nested deeper than the parser's `maxDepth`.
        public static let depthLimitExceeded = Code(.depthLimitExceeded)
        /// More elements than the parser's `maxElements`.
        public static let elementLimitExceeded = Code(.elementLimitExceeded)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// What was wrong, naming the element or construct involved.
    public var message: String
    /// Zero-based byte offset in the input (a UTF-8 BOM included) where the problem was detected.
    public var offset: Int

    /// Creates an error; the parser is the only producer.
    public init(code: Code, message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `XML parse error at byte 123 (mismatched tag): …`.
    public var description: String {
        "XML parse error at byte \(offset) (\(code)): \(message)"
    }
}
