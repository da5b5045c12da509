import AWSClient
import Testing

private func parse(
    _ awsProtocol: AWSProtocol, status: Int, headers: [(String, String)] = [], body: String
) -> AWSErrorDetails {
    AWSErrorDetails.parse(
        protocol: awsProtocol,
        status: status,
        headers: headers.map { HTTPHeader(name: $0.0, value: $0.1) },
        body: Array(body.utf8)
    )
}

@Suite struct AWSErrorParserRestJSONTests {
    @Test func codeFromErrorTypeHeaderUpToTheFirstColon() {
        let details = parse(
            .restJSON, status: 400,
            headers: [
                ("x-amzn-RequestId", "c1a1e4a5-0000-4b6f-9c1d-EXAMPLE"),
                (
                    "x-amzn-ErrorType",
                    "ResourceShareInvitationAlreadyAcceptedException:http://internal.amazon.com/coral/com.amazonaws.ram/"
                ),
                ("Content-Type", "application/json"),
            ],
            body: #"{"message":"The invitation arn:aws:ram:us-east-1:111122223333:resource-share-invitation/abc is already accepted."}"#
        )
        #expect(details == AWSErrorDetails(
            code: "ResourceShareInvitationAlreadyAcceptedException",
            message: "The invitation arn:aws:ram:us-east-1:111122223333:resource-share-invitation/abc is already accepted.",
            requestId: "c1a1e4a5-0000-4b6f-9c1d-EXAMPLE"
        ))
    }

    @Test func headerNamesAreCaseInsensitiveAndTheHeaderWinsOverTheBody() {
        let details = parse(
            .restJSON, status: 403,
            headers: [("X-AMZN-ERRORTYPE", "AccessDeniedException"), ("X-Amzn-Requestid", "id-1")],
            body: #"{"__type":"com.amazonaws.vpclattice#SomethingElse","Message":"User is not authorized"}"#
        )
        #expect(details == AWSErrorDetails(code: "AccessDeniedException", message: "User is not authorized", requestId: "id-1"))
    }

    @Test func typeInTheBodyAfterTheHash() {
        let details = parse(
            .restJSON, status: 429, headers: [("x-amz-request-id", "id-2")],
            body: #"{"__type":"com.amazonaws.ram#ThrottlingException","message":"Rate exceeded"}"#
        )
        #expect(details == AWSErrorDetails(code: "ThrottlingException", message: "Rate exceeded", requestId: "id-2"))
    }

    @Test func typeWithAColonSuffix() {
        let details = parse(
            .restJSON, status: 400, body: #"{"__type":"com.amazon.coral.validate#ValidationException:http://internal/","message":"bad"}"#)
        #expect(details.code == "ValidationException")
    }

    @Test func codeKeysArePreferredToType() {
        #expect(parse(.restJSON, status: 400, body: #"{"code":"A","Code":"B","__type":"C"}"#).code == "A")
        #expect(parse(.restJSON, status: 400, body: #"{"Code":"B","__type":"x#C"}"#).code == "B")
    }

    @Test func messageKeys() {
        #expect(parse(.restJSON, status: 400, body: #"{"__type":"X","Message":"upper"}"#).message == "upper")
        #expect(parse(.restJSON, status: 400, body: #"{"__type":"X","errorMessage":"lambda"}"#).message == "lambda")
        #expect(parse(.restJSON, status: 400, body: #"{"__type":"X","message":"lower","Message":"upper"}"#).message == "lower")
        #expect(parse(.restJSON, status: 400, body: #"{"__type":"X","message":null}"#).message == nil)
    }

    @Test func headerCodeSurvivesAnUnparsableBody() {
        let details = parse(
            .restJSON, status: 503, headers: [("x-amzn-ErrorType", "ServiceUnavailableException")], body: "<html>down</html>")
        #expect(details == AWSErrorDetails(code: "ServiceUnavailableException"))
    }

    @Test func truncatedJSON() {
        let details = parse(
            .restJSON, status: 500, headers: [("Content-Type", "application/json")],
            body: #"{"__type":"ServerInternalException","mess"#)
        #expect(details.code == nil)
        #expect(details.message
            == #"HTTP 500 with an unparsable application/json body (first bytes: "{\"__type\":\"ServerInternalException\",\"mess")"#)
    }

    @Test func jsonThatIsNotAnObject() {
        let details = parse(.restJSON, status: 502, body: #"["not", "an", "object"]"#)
        #expect(details == AWSErrorDetails(message: #"HTTP 502 with an unparsable body (first bytes: "[\"not\", \"an\", \"object\"]")"#))
        #expect(parse(.restJSON, status: 400, body: "{}").message == #"HTTP 400 with an unparsable body (first bytes: "{}")"#)
    }
}

@Suite struct AWSErrorParserXMLTests {
    @Test func ec2ErrorEnvelope() {
        let details = parse(
            .ec2, status: 503,
            body: """
                <?xml version="1.0" encoding="UTF-8"?>
                <Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>9bf4ba03-7e1e-4bd5-8dd4-EXAMPLE</RequestID></Response>
                """
        )
        #expect(details == AWSErrorDetails(
            code: "RequestLimitExceeded", message: "Request limit exceeded.", requestId: "9bf4ba03-7e1e-4bd5-8dd4-EXAMPLE"))
    }

    @Test func ec2ErrorWithRequestIdSpelledLikeQuery() {
        let details = parse(
            .ec2, status: 400,
            body: "<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>The vpc ID 'vpc-1' does not exist</Message></Error></Errors><RequestId>r-2</RequestId></Response>"
        )
        #expect(details == AWSErrorDetails(
            code: "InvalidVpcID.NotFound", message: "The vpc ID 'vpc-1' does not exist", requestId: "r-2"))
    }

    @Test func stsErrorEnvelope() {
        let details = parse(
            .query, status: 403,
            body: """
                <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
                  <Error>
                    <Type>Sender</Type>
                    <Code>SignatureDoesNotMatch</Code>
                    <Message>The request signature we calculated does not match the signature you provided.</Message>
                  </Error>
                  <RequestId>4f1c2a3b-1111-2222-3333-EXAMPLE</RequestId>
                </ErrorResponse>

                """
        )
        #expect(details == AWSErrorDetails(
            code: "SignatureDoesNotMatch",
            message: "The request signature we calculated does not match the signature you provided.",
            requestId: "4f1c2a3b-1111-2222-3333-EXAMPLE"
        ))
    }

    @Test func requestIdFallsBackToTheHeader() {
        let details = parse(
            .query, status: 400, headers: [("x-amzn-requestid", "from-header")],
            body: "<ErrorResponse><Error><Code>ExpiredTokenException</Code><Message>Token expired</Message></Error></ErrorResponse>"
        )
        #expect(details == AWSErrorDetails(code: "ExpiredTokenException", message: "Token expired", requestId: "from-header"))
    }

    @Test func xmlOfAnotherShapeIsUnparsable() {
        let details = parse(
            .ec2, status: 400, headers: [("Content-Type", "text/xml;charset=UTF-8")],
            body: "<DescribeVpcEndpointsResponse><vpcEndpointSet/></DescribeVpcEndpointsResponse>")
        #expect(details.code == nil)
        #expect(details.message
            == #"HTTP 400 with an unparsable text/xml body (first bytes: "<DescribeVpcEndpointsResponse><vpcEndpointSet/></DescribeVpcEndpointsResponse>")"#)
    }

    @Test func truncatedXML() {
        let details = parse(.ec2, status: 503, body: "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Mess")
        #expect(details.code == nil)
        #expect(details.message?.hasPrefix(#"HTTP 503 with an unparsable body (first bytes: "<Response><Errors>"#) == true)
    }

    @Test func doctypeIsNotExpanded() {
        let details = parse(
            .query, status: 400,
            body: #"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ErrorResponse><Error><Code>&e;</Code></Error></ErrorResponse>"#)
        #expect(details.code == nil)
    }
}

@Suite struct AWSErrorParserUnparsableBodyTests {
    static let motoInternalServerError = """
        <!doctype html>
        <html lang=en>
        <title>500 Internal Server Error</title>
        <h1>Internal Server Error</h1>
        <p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>

        """

    @Test(arguments: [AWSProtocol.restJSON, .ec2, .query])
    func htmlErrorPage(_ awsProtocol: AWSProtocol) {
        let details = parse(
            awsProtocol, status: 500, headers: [("Content-Type", "text/html; charset=utf-8")],
            body: Self.motoInternalServerError)
        #expect(details.code == nil)
        #expect(details.requestId == nil)
        #expect(details.message
            == #"HTTP 500 with an unparsable text/html body (first bytes: "<!doctype html> <html lang=en> <title>500 Internal Server Error</title> <h1>Inte…")"#)
    }

    @Test(arguments: [AWSProtocol.restJSON, .ec2, .query])
    func emptyBody(_ awsProtocol: AWSProtocol) {
        #expect(parse(awsProtocol, status: 502, body: "") == AWSErrorDetails(message: "HTTP 502 with an empty body"))
        #expect(parse(awsProtocol, status: 504, body: " \r\n") == AWSErrorDetails(message: "HTTP 504 with an empty body"))
    }

    @Test(arguments: [AWSProtocol.restJSON, .ec2, .query])
    func hugeBodyYieldsOnlyAShortExcerpt(_ awsProtocol: AWSProtocol) throws {
        let body = "<html><body>" + String(repeating: "é garbage ", count: 500_000)
        let details = parse(awsProtocol, status: 500, headers: [("x-amzn-RequestId", "r")], body: body)
        let message = try #require(details.message)
        #expect(details.code == nil)
        #expect(details.requestId == "r")
        #expect(message.count < 160)
        #expect(message.hasPrefix(#"HTTP 500 with an unparsable body (first bytes: "<html><body>é garbage é garbage"#))
        #expect(message.hasSuffix("…\")"))
    }

    @Test func controlCharactersAreReplaced() throws {
        let body: [UInt8] = Array("bad\u{01}\u{1B}[31m\tbody\r\n\u{7F}\u{200B}".utf8) + [0xFF, 0xFE]
        let details = AWSErrorDetails.parse(
            protocol: .restJSON, status: 500, headers: [HTTPHeader(name: "content-type", value: "text/plain\n")], body: body)
        #expect(details.message == "HTTP 500 with an unparsable text/plain body (first bytes: \"bad\u{FFFD}\u{FFFD}[31m body \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\")")
    }

    @Test func excerptStopsAtEightyCharacters() throws {
        let body = String(repeating: "0123456789", count: 9)
        let message = try #require(parse(.ec2, status: 500, body: body).message)
        #expect(message == "HTTP 500 with an unparsable body (first bytes: \"\(body.prefix(80))…\")")
        let exact = String(repeating: "0123456789", count: 8)
        #expect(parse(.ec2, status: 500, body: exact).message == "HTTP 500 with an unparsable body (first bytes: \"\(exact)\")")
    }
}
