import AWSClient
import Foundation
import Testing

// MARK: - Fixtures

/// AWS's SigV4 test suite (Fixtures/aws-sigv4-testsuite): one directory per case, each holding
/// `<case>.req` (the request), `.creq` (canonical request), `.sts` (string to sign), `.authz` and `.sreq`.
enum SigV4TestSuite {
    /// The suite's own inputs: key pair, scope and clock of every case.
    static let credentials = AWSCredentials(
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    static let region = "us-east-1"
    static let service = "service"
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 20150830T123600Z

    static var root: URL {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource folder is missing from the test bundle")
        }
        return fixtures.appending(path: "aws-sigv4-testsuite", directoryHint: .isDirectory)
    }

    /// Every case directory, nested ones included, as a path relative to the suite root (e.g. `normalize-path/get-slash`).
    static let caseNames: [String] = {
        let files = FileManager.default.enumerator(atPath: root.path(percentEncoded: false))?.allObjects as? [String] ?? []
        return files.filter { $0.hasSuffix(".req") }
            .map { $0.split(separator: "/").dropLast().joined(separator: "/") }
            .sorted()
    }()

    static func file(_ caseName: String, _ fileExtension: String) throws -> String {
        let name = caseName.split(separator: "/").last.map(String.init) ?? caseName
        let url = root.appending(path: caseName, directoryHint: .isDirectory).appending(path: "\(name).\(fileExtension)")
        return String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    /// The `X-Amz-Security-Token` the case's signed request carries; the suite states it only there and in prose.
    static func sessionToken(_ caseName: String) throws -> String? {
        try RawHTTPRequest.parse(file(caseName, "sreq"))
            .headers.first { $0.name.lowercased() == "x-amz-security-token" }?.value
    }

    /// post-sts-token/readme.txt: in this case the token header is added after the signature is computed.
    static func addsTokenAfterSigning(_ caseName: String) -> Bool {
        caseName == "post-sts-token/post-sts-header-after"
    }
}

/// Parses the suite's raw HTTP/1.1 requests: request line, header lines (an indented line continues the
/// previous header, as in get-header-value-multiline), a blank line, then the body.
enum RawHTTPRequest {
    static func parse(_ text: String) -> SignableRequest {
        let head: Substring
        let body: Substring
        if let blank = text.range(of: "\n\n") {
            head = text[..<blank.lowerBound]
            body = text[blank.upperBound...]
        } else {
            head = Substring(text)
            body = ""
        }
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        // The target may contain spaces (normalize-path/get-space), so split on the first and last space only.
        let method = requestLine.prefix { $0 != " " }
        let target = requestLine.dropFirst(method.count + 1).prefix(upTo: requestLine.lastIndex(of: " ")!)
        let path = target.prefix { $0 != "?" }
        let query = target.dropFirst(path.count + 1)

        var headers: [HTTPHeader] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else {
                let name = line.prefix { $0 != ":" }
                headers.append(HTTPHeader(name: String(name), value: String(line.dropFirst(name.count + 1))))
            }
        }
        return SignableRequest(
            method: String(method),
            path: String(path),
            query: String(query),
            headers: headers,
            body: Array(body.utf8)
        )
    }
}

/// One botocore-signed request from Fixtures/aws-service-sigv4-vectors.txt.
struct BotocoreVector: Sendable, CustomTestStringConvertible {
    static let credentials = AWSCredentials(
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        sessionToken: "SESSIONTOKENEXAMPLE"
    )
    static let region = "us-east-1"
    static let date = Date(timeIntervalSince1970: 1_735_787_045)  // 20250102T030405Z

    var canonicalRequest: String
    var stringToSign: String
    var method: String
    var host: String
    var path: String
    var query: String
    /// Header lines as botocore sent them (no Host: its HTTP layer adds that from the URL).
    var headers: [HTTPHeader]
    var body: [UInt8]

    var testDescription: String { "\(method) \(host)\(path) \(String(decoding: body.prefix(40), as: UTF8.self))" }

    /// The signing name is the first label of the endpoint host for these services (ram, ec2, vpc-lattice).
    var service: String { String(host.prefix { $0 != "." }) }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    static let all: [BotocoreVector] = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
            .appending(path: "aws-service-sigv4-vectors.txt"),
            let data = try? Data(contentsOf: url)
        else { return [] }
        return String(decoding: data, as: UTF8.self)
            .components(separatedBy: "CANONICAL REQUEST:\n")
            .dropFirst()
            .map(parse)
    }()

    private static func parse(_ block: String) -> BotocoreVector {
        let afterCanonical = block.components(separatedBy: "\n\nSTRING TO SIGN:\n")
        let afterStringToSign = afterCanonical[1].components(separatedBy: "\n\n----- ")
        var lines = afterStringToSign[1].split(separator: "\n")
        let requestLine = lines.removeFirst().split(separator: " ", maxSplits: 1)
        let url = requestLine[1].replacingOccurrences(of: "https://", with: "")
        let host = url.prefix { $0 != "/" }
        let target = url.dropFirst(host.count)
        let path = target.prefix { $0 != "?" }
        var headers: [HTTPHeader] = []
        var body: [UInt8] = []
        for line in lines {
            let content = line.dropFirst(2)
            if content.hasPrefix("BODY: ") {
                body = Array(content.dropFirst("BODY: ".count).utf8)
            } else {
                let name = content.prefix { $0 != ":" }
                headers.append(HTTPHeader(name: String(name), value: String(content.dropFirst(name.count + 2))))
            }
        }
        return BotocoreVector(
            canonicalRequest: afterCanonical[0],
            stringToSign: afterStringToSign[0],
            method: String(requestLine[0]),
            host: String(host),
            path: String(path),
            query: String(target.dropFirst(path.count + 1)),
            headers: headers,
            body: body
        )
    }
}

extension SignableRequest {
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

// MARK: - Tests

@Suite("SigV4 signer")
struct SigV4SignerTests {
    @Test("the whole AWS test suite is found")
    func suiteIsComplete() {
        #expect(SigV4TestSuite.caseNames.count == 34)
        #expect(SigV4TestSuite.caseNames.contains("normalize-path/get-space"))
        #expect(SigV4TestSuite.caseNames.contains("post-sts-token/post-sts-header-before"))
        #expect(SigV4TestSuite.caseNames.contains("get-vanilla-with-session-token"))
    }

    @Test("AWS SigV4 test suite", arguments: SigV4TestSuite.caseNames)
    func awsTestSuite(caseName: String) throws {
        let request = RawHTTPRequest.parse(try SigV4TestSuite.file(caseName, "req"))
        let token = try SigV4TestSuite.sessionToken(caseName)
        let tokenAfter = SigV4TestSuite.addsTokenAfterSigning(caseName)
        var credentials = SigV4TestSuite.credentials
        credentials.sessionToken = tokenAfter ? nil : token
        let signer = SigV4Signer(credentials: credentials, region: SigV4TestSuite.region, service: SigV4TestSuite.service)

        var signed = try signer.sign(request, date: SigV4TestSuite.date)
        let canonicalRequest = signer.canonicalRequest(for: signed)
        let stringToSign = signer.stringToSign(canonicalRequest: canonicalRequest, date: SigV4TestSuite.date)

        #expect(canonicalRequest == (try SigV4TestSuite.file(caseName, "creq")))
        #expect(stringToSign == (try SigV4TestSuite.file(caseName, "sts")))
        #expect(signed.header("Authorization") == (try SigV4TestSuite.file(caseName, "authz")))

        // The rest of the signed request must match .sreq too. Its Authorization line is checked against .authz
        // above instead: the suite's get-vanilla-with-session-token.sreq carries get-vanilla's signature.
        if tokenAfter, let token {
            signed.headers.append(HTTPHeader(name: "X-Amz-Security-Token", value: token))
        }
        var expected = RawHTTPRequest.parse(try SigV4TestSuite.file(caseName, "sreq"))
        expected.headers.removeAll { $0.name.lowercased() == "authorization" }
        signed.headers.removeAll { $0.name.lowercased() == "authorization" }
        #expect(signed == expected)
    }

    @Test("botocore-signed RAM, EC2 and Lattice requests", arguments: BotocoreVector.all)
    func botocoreVector(vector: BotocoreVector) throws {
        #expect((vector.header("Content-Length") ?? "0") == String(vector.body.count), "the vector file parsed wrongly")
        let unsigned = SignableRequest(
            method: vector.method,
            path: vector.path,
            query: vector.query,
            headers: [HTTPHeader(name: "Host", value: vector.host)]
                + vector.headers.filter {
                    !["authorization", "x-amz-date", "x-amz-security-token"].contains($0.name.lowercased())
                },
            body: vector.body
        )
        let signer = SigV4Signer(credentials: BotocoreVector.credentials, region: BotocoreVector.region, service: vector.service)

        let signed = try signer.sign(unsigned, date: BotocoreVector.date)
        let canonicalRequest = signer.canonicalRequest(for: signed)

        #expect(canonicalRequest == vector.canonicalRequest)
        #expect(signer.stringToSign(canonicalRequest: canonicalRequest, date: BotocoreVector.date) == vector.stringToSign)
        #expect(signed.header("Authorization") == vector.header("Authorization"))
        #expect(signed.header("X-Amz-Date") == vector.header("X-Amz-Date"))
        #expect(signed.header("X-Amz-Security-Token") == vector.header("X-Amz-Security-Token"))
    }

    @Test("all seven botocore vectors are found")
    func botocoreVectorsAreComplete() {
        #expect(BotocoreVector.all.count == 7)
        #expect(Set(BotocoreVector.all.map(\.service)) == ["ram", "ec2", "vpc-lattice"])
    }

    @Test("a request without a Host header is refused, not signed")
    func missingHost() {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "ram")
        let request = SignableRequest(method: "POST", path: "/listresources", body: Array("{}".utf8))
        #expect(throws: SigV4SigningError.self) { try signer.sign(request, date: SigV4TestSuite.date) }
        do {
            _ = try signer.sign(request, date: SigV4TestSuite.date)
        } catch {
            #expect(error.code == .missingHostHeader)
            #expect(error.message.contains("Host"))
        }
        var twoHosts = request
        twoHosts.headers = [HTTPHeader(name: "Host", value: "a"), HTTPHeader(name: "host", value: "b")]
        do {
            _ = try signer.sign(twoHosts, date: SigV4TestSuite.date)
            Issue.record("signed a request with two Host headers")
        } catch {
            #expect(error.code == .multipleHostHeaders)
        }
    }

    @Test("re-signing replaces Authorization, X-Amz-Date and the token instead of adding more")
    func resigning() throws {
        let signer = SigV4Signer(credentials: BotocoreVector.credentials, region: "us-east-1", service: "ram")
        let request = SignableRequest(
            method: "POST",
            path: "/listresources",
            headers: [HTTPHeader(name: "Host", value: "ram.us-east-1.amazonaws.com")],
            body: Array("{}".utf8)
        )
        let later = SigV4TestSuite.date.addingTimeInterval(3_600)
        let once = try signer.sign(request, date: later)
        let twice = try signer.sign(try signer.sign(request, date: SigV4TestSuite.date), date: later)
        #expect(twice == once)
        #expect(twice.headers.count == 4)
    }

    @Test("hop-by-hop and client headers are left unsigned")
    func unsignedHeaders() throws {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "ec2")
        let request = SignableRequest(
            method: "POST",
            path: "/",
            headers: [
                HTTPHeader(name: "Host", value: "ec2.us-east-1.amazonaws.com"),
                HTTPHeader(name: "User-Agent", value: "privatelink-consumer/1.0"),
                HTTPHeader(name: "Content-Length", value: "2"),
                HTTPHeader(name: "X-Amzn-Trace-Id", value: "Root=1"),
                HTTPHeader(name: "Expect", value: "100-continue"),
                HTTPHeader(name: "Connection", value: "keep-alive"),
                HTTPHeader(name: "Transfer-Encoding", value: "chunked"),
                HTTPHeader(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8"),
            ],
            body: Array("{}".utf8)
        )
        let signed = try signer.sign(request, date: SigV4TestSuite.date)
        #expect(signed.header("Authorization")?.contains("SignedHeaders=content-type;host;x-amz-date,") == true)
    }

    @Test(
        "canonical URI: normalised, then the wire form encoded once more",
        arguments: [
            ("", "/"),
            ("/", "/"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/a/./b/", "/a/b/"),
            ("/../a", "/a"),
            ("a/b", "/a/b"),
            ("/arn%3Aaws%2Fx", "/arn%253Aaws%252Fx"),
            ("/a b+c", "/a%20b%2Bc"),
        ]
    )
    func canonicalURI(path: String, expected: String) {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "service")
        let canonical = signer.canonicalRequest(for: SignableRequest(method: "GET", path: path))
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[1] == expected)
    }

    @Test(
        "canonical query: decoded, strictly re-encoded, sorted by name then value",
        arguments: [
            ("", ""),
            ("b=2&a=1", "a=1&b=2"),
            ("a=2&a=1&a", "a=&a=1&a=2"),
            ("a=1&&b=", "a=1&b="),
            ("x=a%2fb&y=a/b", "x=a%2Fb&y=a%2Fb"),
            ("q=a+b%20c", "q=a%2Bb%20c"),
            ("p=100%", "p=100%25"),
            ("=v", "=v"),
        ]
    )
    func canonicalQuery(query: String, expected: String) {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "service")
        let canonical = signer.canonicalRequest(for: SignableRequest(method: "GET", path: "/", query: query))
        #expect(canonical.split(separator: "\n", omittingEmptySubsequences: false)[2] == expected)
    }

    @Test(
        "X-Amz-Date is UTC, whole seconds, zero-padded",
        arguments: [
            (0.0, "19700101T000000Z"),
            (951_825_600.0, "20000229T120000Z"),
            (946_684_799.999, "19991231T235959Z"),
            (1_709_251_199.5, "20240229T235959Z"),
            (-1.0, "19691231T235959Z"),
            (4_102_444_800.0, "21000101T000000Z"),
        ]
    )
    func amzDate(seconds: Double, expected: String) throws {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "service")
        let request = SignableRequest(method: "GET", path: "/", headers: [HTTPHeader(name: "Host", value: "h")])
        let signed = try signer.sign(request, date: Date(timeIntervalSince1970: seconds))
        #expect(signed.header("X-Amz-Date") == expected)
        #expect(signed.header("Authorization")?.contains("/\(expected.prefix(8))/us-east-1/service/aws4_request,") == true)
    }

    @Test("signing from many tasks at once gives the same answer")
    func concurrentSigning() async throws {
        let signer = SigV4Signer(credentials: SigV4TestSuite.credentials, region: "us-east-1", service: "service")
        let request = RawHTTPRequest.parse(try SigV4TestSuite.file("get-vanilla", "req"))
        let expected = try SigV4TestSuite.file("get-vanilla", "authz")
        let results = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<64 {
                group.addTask { try? signer.sign(request, date: SigV4TestSuite.date).header("Authorization") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: expected, count: 64))
    }
}

@Suite("AWS credentials")
struct AWSCredentialsTests {
    let credentials = AWSCredentials(
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        sessionToken: "SESSIONTOKENEXAMPLE",
        expiration: Date(timeIntervalSince1970: 1_735_787_045)
    )

    @Test("no textual or reflected form shows the secret or the token")
    func redaction() {
        var dumped = ""
        dump(credentials, to: &dumped)
        var debugPrinted = ""
        debugPrint(credentials, to: &debugPrinted)
        let forms = [
            credentials.description,
            credentials.debugDescription,
            "\(credentials)",
            String(describing: credentials),
            String(reflecting: credentials),
            "\([credentials])",
            "\(Optional(credentials) as Any)",
            String(describing: SigV4Signer(credentials: credentials, region: "us-east-1", service: "ram")),
            dumped,
            debugPrinted,
        ]
        for form in forms {
            #expect(!form.contains("wJalrXUtnFEMI"), "\(form)")
            #expect(!form.contains("SESSIONTOKENEXAMPLE"), "\(form)")
            #expect(form.contains("AKIDEXAMPLE"), "\(form)")
        }
        #expect(credentials.description.contains("secret: <redacted>"))
    }

    @Test("a signed request prints without its session token")
    func signedRequestRedaction() throws {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "ram")
        let request = SignableRequest(method: "POST", path: "/", headers: [HTTPHeader(name: "Host", value: "ram")])
        let signed = try signer.sign(request, date: SigV4TestSuite.date)
        var dumped = ""
        dump(signed, to: &dumped)
        for form in ["\(signed)", String(reflecting: signed), "\(signed.headers)", dumped] {
            #expect(!form.contains("SESSIONTOKENEXAMPLE"), "\(form)")
            #expect(form.contains("X-Amz-Security-Token"), "\(form)")
        }
        #expect(signed.header("X-Amz-Security-Token") == "SESSIONTOKENEXAMPLE")
    }
}
