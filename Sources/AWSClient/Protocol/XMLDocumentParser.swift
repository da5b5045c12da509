import Foundation

/// A small, strict, non-validating XML parser for AWS `ec2` and `query` protocol responses.
///
/// It refuses rather than guesses: DTDs and entity declarations (no XXE), unknown entities, unclosed or
/// mismatched tags (a truncated body never yields a partial tree), content after the root, invalid UTF-8,
/// and documents deeper or larger than the limits. It works on bytes in one linear pass, iteratively, so
/// hostile input can neither recurse the stack away nor go quadratic.
public enum XMLDocumentParser {
    /// Offered each element below the root as it closes: its depth (the root is 1), its parent's name and the
    /// element; true takes it out of the tree.
    public typealias HandOver = (_ depth: Int, _ parent: String, _ element: XMLElement) -> Bool

    /// Parses a whole UTF-8 document and returns its root element.
    ///
    /// `handOver`, when given, is offered each element as it closes, with its depth (the root is 1) and its
    /// parent's name; an element it takes (true) is left out of the tree, so that a long listing need not be
    /// held twice (as a tree and as what the caller makes of it). What it took is the caller's to drop when
    /// this throws: a document that turns out malformed later yields nothing.
    public static func parse(
        _ bytes: [UInt8],
        maxDepth: Int = 64,
        maxElements: Int = 1_000_000,
        handOver: HandOver? = nil
    ) throws(XMLParseError) -> XMLElement {
        func run(_ handOver: HandOver?) -> Result<XMLElement, XMLParseError> {
            bytes.withUnsafeBufferPointer { buffer in
                var parser = XMLByteParser(input: buffer, maxDepth: maxDepth, maxElements: maxElements, handOver: handOver)
                return Result { () throws(XMLParseError) -> XMLElement in try parser.parseDocument() }
            }
        }
        guard let handOver else { return try run(nil).get() }
        return try withoutActuallyEscaping(handOver) { handOver in run(handOver) }.get()
    }
}

// MARK: - Implementation

private enum ASCII {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let exclamation: UInt8 = 0x21  // !
    static let doubleQuote: UInt8 = 0x22  // "
    static let hash: UInt8 = 0x23  // #
    static let ampersand: UInt8 = 0x26  // &
    static let singleQuote: UInt8 = 0x27  // '
    static let hyphen: UInt8 = 0x2D  // -
    static let period: UInt8 = 0x2E  // .
    static let slash: UInt8 = 0x2F  // /
    static let colon: UInt8 = 0x3A  // :
    static let semicolon: UInt8 = 0x3B  // ;
    static let lessThan: UInt8 = 0x3C  // <
    static let equals: UInt8 = 0x3D  // =
    static let greaterThan: UInt8 = 0x3E  // >
    static let question: UInt8 = 0x3F  // ?
    static let rightBracket: UInt8 = 0x5D  // ]
    static let underscore: UInt8 = 0x5F  // _
    static let x: UInt8 = 0x78  // x

    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
    static let xmlDeclarationStart: [UInt8] = Array("<?xml".utf8)
    static let processingInstructionStart: [UInt8] = Array("<?".utf8)
    static let processingInstructionEnd: [UInt8] = Array("?>".utf8)
    static let commentStart: [UInt8] = Array("<!--".utf8)
    static let cdataStart: [UInt8] = Array("<![CDATA[".utf8)
    static let declarationStart: [UInt8] = Array("<!".utf8)

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == lineFeed || byte == carriageReturn || byte == tab
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == underscore || byte == colon
            || byte >= 0x80
    }

    static func isNameCharacter(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte == hyphen || byte == period
    }
}

/// An element whose end tag has not been seen yet.
private struct OpenElement {
    var element: XMLElement
    /// The qualified name as written, to match the end tag byte for byte.
    var qualifiedName: Range<Int>
    /// Offset of the `<` of the start tag, for error messages.
    var startOffset: Int
    /// Decoded character data collected so far; turned into a `String` once, when the element closes.
    var text: [UInt8] = []
}

private enum StartTag {
    case open(OpenElement)
    case selfClosing(XMLElement)
}

private struct XMLByteParser {
    let input: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let maxElements: Int
    var position = 0
    var elementCount = 0
    /// Offered each closed element below the root (see `XMLDocumentParser.parse`).
    let handOver: XMLDocumentParser.HandOver?

    init(input: UnsafeBufferPointer<UInt8>, maxDepth: Int, maxElements: Int, handOver: XMLDocumentParser.HandOver? = nil) {
        self.input = input
        self.maxDepth = maxDepth
        self.maxElements = maxElements
        self.handOver = handOver
    }

    /// Adds a closed element to its parent (the innermost open one), unless `handOver` takes it.
    private func adopt(_ element: XMLElement, into open: inout [OpenElement]) {
        let parent = open.count - 1
        if let handOver, handOver(open.count + 1, open[parent].element.name, element) { return }
        open[parent].element.children.append(element)
    }

    // MARK: Document

    mutating func parseDocument() throws(XMLParseError) -> XMLElement {
        guard !input.isEmpty else {
            throw XMLParseError(code: .emptyDocument, message: "the document is empty", offset: 0)
        }
        try validateCharacters()

        if hasPrefix(ASCII.byteOrderMark) { position = 3 }
        if hasPrefix(ASCII.xmlDeclarationStart) {
            guard position + 5 < input.count else {
                throw unexpectedEnd("inside the XML declaration", openedAt: position)
            }
            if ASCII.isWhitespace(input[position + 5]) { try parseXMLDeclaration() }
        }

        // Prolog: whitespace, comments and processing instructions; never a DOCTYPE.
        while true {
            skipWhitespace()
            guard position < input.count else {
                throw XMLParseError(code: .emptyDocument, message: "the document has no root element", offset: position)
            }
            guard input[position] == ASCII.lessThan else {
                throw XMLParseError(code: .malformed, message: "text before the root element", offset: position)
            }
            if hasPrefix(ASCII.processingInstructionStart) {
                try skipProcessingInstruction()
            } else if hasPrefix(ASCII.commentStart) {
                try skipComment()
            } else if hasPrefix(ASCII.declarationStart) {
                if isTruncated(ASCII.commentStart) { throw unexpectedEnd("inside a comment", openedAt: position) }
                throw forbiddenDeclaration()
            } else {
                break
            }
        }

        let root = try parseRootElement()

        // Epilogue: only whitespace, comments and processing instructions may follow the root.
        while true {
            skipWhitespace()
            guard position < input.count else { return root }
            if hasPrefix(ASCII.processingInstructionStart) {
                try skipProcessingInstruction()
            } else if hasPrefix(ASCII.commentStart) {
                try skipComment()
            } else if input[position] == ASCII.lessThan {
                throw XMLParseError(
                    code: .contentAfterRoot,
                    message: "markup after the root element <\(root.name)> (a second root element?)",
                    offset: position
                )
            } else {
                throw XMLParseError(
                    code: .contentAfterRoot, message: "text after the root element <\(root.name)>", offset: position)
            }
        }
    }

    /// One pass over the whole input before parsing: strict UTF-8 (no overlongs, surrogates or values
    /// above U+10FFFF) and no characters XML 1.0 forbids, so every later `String(decoding:)` is lossless.
    func validateCharacters() throws(XMLParseError) {
        var index = 0
        let count = input.count
        while index < count {
            let lead = input[index]
            if lead < 0x80 {
                if lead < ASCII.space, lead != ASCII.tab, lead != ASCII.lineFeed, lead != ASCII.carriageReturn {
                    throw XMLParseError(
                        code: .invalidCharacter,
                        message: "control character 0x\(String(lead, radix: 16, uppercase: true)) is not allowed in XML",
                        offset: index
                    )
                }
                index += 1
                continue
            }
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondLow = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondHigh = 0x9F  // U+D800...U+DFFF are surrogates
            case 0xF0: length = 4; secondLow = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondHigh = 0x8F  // nothing above U+10FFFF
            default:
                throw invalidUTF8(at: index)
            }
            guard index + length <= count else { throw invalidUTF8(at: index) }
            let second = input[index + 1]
            guard second >= secondLow, second <= secondHigh else { throw invalidUTF8(at: index) }
            for continuation in (index + 2)..<(index + length) where input[continuation] & 0xC0 != 0x80 {
                throw invalidUTF8(at: index)
            }
            // U+FFFE and U+FFFF are not XML characters.
            if lead == 0xEF, second == 0xBF, input[index + 2] >= 0xBE {
                throw XMLParseError(code: .invalidCharacter, message: "U+FFFE/U+FFFF is not allowed in XML", offset: index)
            }
            index += length
        }
    }

    mutating func parseXMLDeclaration() throws(XMLParseError) {
        let start = position
        position += 5  // <?xml
        while true {
            skipWhitespace()
            guard position < input.count else { throw unexpectedEnd("inside the XML declaration", openedAt: start) }
            if hasPrefix(ASCII.processingInstructionEnd) {
                position += 2
                return
            }
            if input[position] == ASCII.question, position + 1 == input.count {
                throw unexpectedEnd("inside the XML declaration", openedAt: start)
            }
            let name = try parseName(what: "XML declaration attribute")
            skipWhitespace()
            try expect(ASCII.equals, "'=' after \(name) in the XML declaration")
            skipWhitespace()
            guard position < input.count else { throw unexpectedEnd("inside the XML declaration", openedAt: start) }
            let quote = input[position]
            guard quote == ASCII.doubleQuote || quote == ASCII.singleQuote else {
                throw XMLParseError(code: .malformed, message: "unquoted value in the XML declaration", offset: position)
            }
            let valueStart = position + 1
            guard let valueEnd = find(quote, from: valueStart) else {
                throw unexpectedEnd("inside the XML declaration", openedAt: start)
            }
            let value = string(valueStart..<valueEnd)
            position = valueEnd + 1
            if name == "encoding", !["utf-8", "utf8"].contains(value.lowercased()) {
                throw XMLParseError(
                    code: .invalidCharacter,
                    message: "declared encoding \"\(value)\" is not supported (UTF-8 only)",
                    offset: valueStart
                )
            }
        }
    }

    // MARK: Elements

    /// Parses the root element and everything inside it with an explicit stack, never recursion.
    mutating func parseRootElement() throws(XMLParseError) -> XMLElement {
        var open: [OpenElement] = []
        switch try parseStartTag(depth: 1) {
        case .selfClosing(let element): return element
        case .open(let element): open.append(element)
        }

        while true {
            guard position < input.count else {
                let innermost = open[open.count - 1]
                throw unexpectedEnd("inside element <\(innermost.element.name)>", openedAt: innermost.startOffset)
            }
            let byte = input[position]
            if byte == ASCII.lessThan {
                guard position + 1 < input.count else {
                    throw unexpectedEnd("inside markup", openedAt: position)
                }
                switch input[position + 1] {
                case ASCII.slash:
                    let closed = try parseEndTag(closing: open.removeLast())
                    if open.isEmpty { return closed }
                    adopt(closed, into: &open)
                case ASCII.question:
                    try skipProcessingInstruction()
                case ASCII.exclamation:
                    if hasPrefix(ASCII.commentStart) {
                        try skipComment()
                    } else if hasPrefix(ASCII.cdataStart) {
                        try parseCDATA(into: &open[open.count - 1].text)
                    } else if isTruncated(ASCII.commentStart) || isTruncated(ASCII.cdataStart) {
                        throw unexpectedEnd("inside markup", openedAt: position)
                    } else {
                        throw forbiddenDeclaration()
                    }
                default:
                    switch try parseStartTag(depth: open.count + 1) {
                    case .selfClosing(let element): adopt(element, into: &open)
                    case .open(let element): open.append(element)
                    }
                }
            } else if byte == ASCII.ampersand {
                try parseReference(into: &open[open.count - 1].text)
            } else {
                try parseText(into: &open[open.count - 1].text)
            }
        }
    }

    /// Parses `<name attr="value" …>` or `<name …/>`; `position` is at the `<`.
    mutating func parseStartTag(depth: Int) throws(XMLParseError) -> StartTag {
        let tagStart = position
        if depth > maxDepth {
            throw XMLParseError(
                code: .depthLimitExceeded, message: "elements nest deeper than \(maxDepth) levels", offset: tagStart)
        }
        elementCount += 1
        if elementCount > maxElements {
            throw XMLParseError(
                code: .elementLimitExceeded, message: "the document has more than \(maxElements) elements",
                offset: tagStart)
        }
        position += 1
        let qualifiedName = try parseNameRange(what: "element name")
        var element = XMLElement(name: localName(qualifiedName))

        while true {
            let hadWhitespace = skipWhitespace()
            guard position < input.count else {
                throw unexpectedEnd("inside the start tag of <\(element.name)>", openedAt: tagStart)
            }
            switch input[position] {
            case ASCII.greaterThan:
                position += 1
                return .open(OpenElement(element: element, qualifiedName: qualifiedName, startOffset: tagStart))
            case ASCII.slash:
                position += 1
                guard position < input.count else {
                    throw unexpectedEnd("inside the start tag of <\(element.name)>", openedAt: tagStart)
                }
                try expect(ASCII.greaterThan, "'>' after '/' in <\(element.name)/>")
                return .selfClosing(element)
            default:
                guard hadWhitespace else {
                    throw XMLParseError(
                        code: .malformed, message: "expected whitespace, '>' or '/>' in <\(element.name)>",
                        offset: position)
                }
                let attributeStart = position
                let (name, value) = try parseAttribute(in: element.name, tagStart: tagStart)
                guard element.attributes.updateValue(value, forKey: name) == nil else {
                    throw XMLParseError(
                        code: .malformed, message: "duplicate attribute \(name) on <\(element.name)>",
                        offset: attributeStart)
                }
            }
        }
    }

    mutating func parseAttribute(in elementName: String, tagStart: Int) throws(XMLParseError) -> (String, String) {
        let name = try parseName(what: "attribute name")
        skipWhitespace()
        guard position < input.count else { throw unexpectedEnd("inside the start tag of <\(elementName)>", openedAt: tagStart) }
        try expect(ASCII.equals, "'=' after attribute \(name) of <\(elementName)>")
        skipWhitespace()
        guard position < input.count else { throw unexpectedEnd("inside the start tag of <\(elementName)>", openedAt: tagStart) }
        let quote = input[position]
        guard quote == ASCII.doubleQuote || quote == ASCII.singleQuote else {
            throw XMLParseError(
                code: .malformed, message: "value of attribute \(name) of <\(elementName)> is not quoted",
                offset: position)
        }
        position += 1
        var value: [UInt8] = []
        while true {
            guard position < input.count else {
                throw unexpectedEnd("inside the start tag of <\(elementName)>", openedAt: tagStart)
            }
            let byte = input[position]
            switch byte {
            case quote:
                position += 1
                return (name, String(decoding: value, as: UTF8.self))
            case ASCII.lessThan:
                throw XMLParseError(
                    code: .malformed, message: "'<' in the value of attribute \(name) of <\(elementName)>",
                    offset: position)
            case ASCII.ampersand:
                try parseReference(into: &value)
            case ASCII.carriageReturn:
                // Attribute-value normalisation: each line end or tab becomes one space.
                value.append(ASCII.space)
                position += 1
                if position < input.count, input[position] == ASCII.lineFeed { position += 1 }
            case ASCII.lineFeed, ASCII.tab:
                value.append(ASCII.space)
                position += 1
            default:
                value.append(byte)
                position += 1
            }
        }
    }

    /// Parses `</name>` and returns the finished element; `position` is at the `<`.
    mutating func parseEndTag(closing open: OpenElement) throws(XMLParseError) -> XMLElement {
        let tagStart = position
        position += 2
        let name = try parseNameRange(what: "end tag name")
        skipWhitespace()
        guard position < input.count else { throw unexpectedEnd("inside an end tag", openedAt: tagStart) }
        try expect(ASCII.greaterThan, "'>' to close the end tag </\(string(name))>")
        guard input[name].elementsEqual(input[open.qualifiedName]) else {
            throw XMLParseError(
                code: .mismatchedTag,
                message: "end tag </\(string(name))> does not match <\(string(open.qualifiedName))> opened at byte \(open.startOffset)",
                offset: tagStart
            )
        }
        var element = open.element
        if !element.children.isEmpty, open.text.allSatisfy(ASCII.isWhitespace) {
            element.text = ""
        } else {
            element.text = String(decoding: open.text, as: UTF8.self)
        }
        return element
    }

    // MARK: Character data

    /// Appends a run of literal text up to the next `<` or `&`, normalising line ends.
    mutating func parseText(into text: inout [UInt8]) throws(XMLParseError) {
        let runStart = position
        var chunkStart = position
        while position < input.count {
            let byte = input[position]
            if byte == ASCII.lessThan || byte == ASCII.ampersand { break }
            if byte == ASCII.greaterThan, position - runStart >= 2,
                input[position - 1] == ASCII.rightBracket, input[position - 2] == ASCII.rightBracket
            {
                throw XMLParseError(code: .malformed, message: "']]>' outside a CDATA section", offset: position - 2)
            }
            if byte == ASCII.carriageReturn {
                text.append(contentsOf: input[chunkStart..<position])
                text.append(ASCII.lineFeed)
                position += 1
                if position < input.count, input[position] == ASCII.lineFeed { position += 1 }
                chunkStart = position
                continue
            }
            position += 1
        }
        text.append(contentsOf: input[chunkStart..<position])
    }

    /// Appends the content of `<![CDATA[…]]>` verbatim (line ends normalised); `position` is at the `<`.
    mutating func parseCDATA(into text: inout [UInt8]) throws(XMLParseError) {
        let start = position
        position += 9  // <![CDATA[
        var chunkStart = position
        while position < input.count {
            let byte = input[position]
            if byte == ASCII.rightBracket, position + 2 < input.count,
                input[position + 1] == ASCII.rightBracket, input[position + 2] == ASCII.greaterThan
            {
                text.append(contentsOf: input[chunkStart..<position])
                position += 3
                return
            }
            if byte == ASCII.carriageReturn {
                text.append(contentsOf: input[chunkStart..<position])
                text.append(ASCII.lineFeed)
                position += 1
                if position < input.count, input[position] == ASCII.lineFeed { position += 1 }
                chunkStart = position
                continue
            }
            position += 1
        }
        throw unexpectedEnd("inside a CDATA section", openedAt: start)
    }

    /// Decodes `&name;`, `&#NN;` or `&#xNN;` and appends its UTF-8; `position` is at the `&`.
    mutating func parseReference(into text: inout [UInt8]) throws(XMLParseError) {
        let start = position
        // The longest legal reference is a numeric one; leading zeros are legal but never this many.
        var end = start + 1
        while end < input.count, end - start <= 32, ASCII.isNameCharacter(input[end]) || input[end] == ASCII.hash {
            end += 1
        }
        if end == input.count { throw unexpectedEnd("inside an entity reference", openedAt: start) }
        guard input[end] == ASCII.semicolon, end > start + 1 else {
            throw XMLParseError(
                code: .malformed, message: "'&' that does not start a reference (a literal & is written &amp;)",
                offset: start)
        }
        let body = input[(start + 1)..<end]
        position = end + 1
        switch string((start + 1)..<end) {
        case "lt": text.append(ASCII.lessThan); return
        case "gt": text.append(ASCII.greaterThan); return
        case "amp": text.append(ASCII.ampersand); return
        case "apos": text.append(ASCII.singleQuote); return
        case "quot": text.append(ASCII.doubleQuote); return
        default: break
        }
        guard body.first == ASCII.hash else {
            throw XMLParseError(
                code: .unknownEntity,
                message: "unknown entity &\(string((start + 1)..<end)); (only the five predefined ones are allowed)",
                offset: start)
        }
        var digits = body.dropFirst()
        var radix: UInt32 = 10
        if digits.first == ASCII.x {
            radix = 16
            digits = digits.dropFirst()
        }
        var value: UInt32 = 0
        for digit in digits {
            guard let digitValue = Self.digitValue(digit, radix: radix) else {
                throw XMLParseError(
                    code: .malformed, message: "invalid character reference &\(string((start + 1)..<end));",
                    offset: start)
            }
            value = value * radix + digitValue
            if value > 0x10FFFF { break }
        }
        guard !digits.isEmpty, Self.isXMLCharacter(value), let scalar = Unicode.Scalar(value) else {
            throw XMLParseError(
                code: .invalidCharacter,
                message: "character reference &\(string((start + 1)..<end)); is not an XML character",
                offset: start)
        }
        text.append(contentsOf: scalar.utf8)
    }

    static func digitValue(_ byte: UInt8, radix: UInt32) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46 where radix == 16: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66 where radix == 16: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }

    static func isXMLCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    // MARK: Comments and processing instructions

    /// Skips `<!-- … -->`; `--` inside a comment is not well-formed.
    mutating func skipComment() throws(XMLParseError) {
        let start = position
        position += 4
        while position + 1 < input.count {
            if input[position] == ASCII.hyphen, input[position + 1] == ASCII.hyphen {
                guard position + 2 < input.count else { break }
                guard input[position + 2] == ASCII.greaterThan else {
                    throw XMLParseError(code: .malformed, message: "'--' inside a comment", offset: position)
                }
                position += 3
                return
            }
            position += 1
        }
        throw unexpectedEnd("inside a comment", openedAt: start)
    }

    /// Skips `<?target …?>`; the reserved target `xml` is only allowed as the declaration at the start.
    mutating func skipProcessingInstruction() throws(XMLParseError) {
        let start = position
        position += 2
        guard position < input.count else { throw unexpectedEnd("inside a processing instruction", openedAt: start) }
        let target = try parseName(what: "processing instruction target")
        if target.lowercased() == "xml" {
            throw XMLParseError(
                code: .malformed, message: "an XML declaration is only allowed at the start of the document",
                offset: start)
        }
        while position + 1 < input.count {
            if input[position] == ASCII.question, input[position + 1] == ASCII.greaterThan {
                position += 2
                return
            }
            position += 1
        }
        throw unexpectedEnd("inside a processing instruction", openedAt: start)
    }

    // MARK: Helpers

    func hasPrefix(_ prefix: [UInt8]) -> Bool {
        guard position + prefix.count <= input.count else { return false }
        for (offset, byte) in prefix.enumerated() where input[position + offset] != byte { return false }
        return true
    }

    /// Whether the input ends at `position` with a proper prefix of `pattern`: markup cut off by truncation.
    func isTruncated(_ pattern: [UInt8]) -> Bool {
        let remaining = input.count - position
        guard remaining < pattern.count else { return false }
        for offset in 0..<remaining where input[position + offset] != pattern[offset] { return false }
        return true
    }

    @discardableResult
    mutating func skipWhitespace() -> Bool {
        let start = position
        while position < input.count, ASCII.isWhitespace(input[position]) { position += 1 }
        return position > start
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(XMLParseError) {
        guard position < input.count else { throw unexpectedEnd("while expecting \(what)", openedAt: position) }
        guard input[position] == byte else {
            throw XMLParseError(code: .malformed, message: "expected \(what)", offset: position)
        }
        position += 1
    }

    mutating func parseNameRange(what: String) throws(XMLParseError) -> Range<Int> {
        let start = position
        guard position < input.count else { throw unexpectedEnd("while expecting \(what)", openedAt: position) }
        guard ASCII.isNameStart(input[position]) else {
            throw XMLParseError(code: .malformed, message: "expected \(what)", offset: position)
        }
        position += 1
        while position < input.count, ASCII.isNameCharacter(input[position]) { position += 1 }
        return start..<position
    }

    mutating func parseName(what: String) throws(XMLParseError) -> String {
        string(try parseNameRange(what: what))
    }

    /// The part after the last `:`, or the whole name when it has no prefix.
    func localName(_ range: Range<Int>) -> String {
        var start = range.lowerBound
        for index in range where input[index] == ASCII.colon && index + 1 < range.upperBound { start = index + 1 }
        return string(start..<range.upperBound)
    }

    func find(_ byte: UInt8, from start: Int, before limit: Int? = nil) -> Int? {
        var index = start
        let end = limit ?? input.count
        while index < end {
            if input[index] == byte { return index }
            index += 1
        }
        return nil
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: input[range]), as: UTF8.self)
    }

    func unexpectedEnd(_ context: String, openedAt start: Int) -> XMLParseError {
        XMLParseError(
            code: .unexpectedEnd,
            message: "the document ends \(context) (started at byte \(start)); the body is truncated or malformed",
            offset: input.count
        )
    }

    func forbiddenDeclaration() -> XMLParseError {
        XMLParseError(
            code: .forbiddenDeclaration,
            message: "DOCTYPE and other <! declarations are refused (no DTDs or entity definitions)",
            offset: position
        )
    }

    func invalidUTF8(at offset: Int) -> XMLParseError {
        XMLParseError(code: .invalidCharacter, message: "invalid UTF-8 byte sequence", offset: offset)
    }
}
