import AWSClient
import Testing

// MARK: - Fixtures

/// Response bodies shaped as EC2 and STS send them (element names and nesting from botocore's models).
/// No trailing newline, so that every proper prefix is a truncated document.
enum XMLFixtures {
    static let describeVpcEndpoints = """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
            <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
            <vpcEndpointSet>
                <item>
                    <vpcEndpointId>vpce-019b90d6f16d4f958</vpcEndpointId>
                    <vpcEndpointType>Resource</vpcEndpointType>
                    <vpcId>vpc-0a1b2c3d4e5f67890</vpcId>
                    <state>Available</state>
                    <routeTableIdSet/>
                    <subnetIdSet>
                        <item>subnet-0123456789abcdef0</item>
                        <item>subnet-0fedcba9876543210</item>
                    </subnetIdSet>
                    <groupSet>
                        <item>
                            <groupId>sg-0123456789abcdef0</groupId>
                            <groupName>default</groupName>
                        </item>
                    </groupSet>
                    <ipAddressType>IPV4</ipAddressType>
                    <privateDnsEnabled>false</privateDnsEnabled>
                    <requesterManaged>false</requesterManaged>
                    <networkInterfaceIdSet>
                        <item>eni-0123456789abcdef0</item>
                    </networkInterfaceIdSet>
                    <dnsEntrySet/>
                    <creationTimestamp>2025-01-02T03:04:05.000Z</creationTimestamp>
                    <tagSet>
                        <item>
                            <key>privatelink-consumer:customer</key>
                            <value>acme</value>
                        </item>
                        <item>
                            <key>Name</key>
                            <value>acme &amp; sons &lt;prod&gt;</value>
                        </item>
                    </tagSet>
                    <ownerId>111122223333</ownerId>
                    <resourceConfigurationArn>arn:aws:vpc-lattice:us-east-2:444455556666:resourceconfiguration/rcfg-07129f3acded87625</resourceConfigurationArn>
                </item>
                <item>
                    <vpcEndpointId>vpce-0aaaaaaaaaaaaaaaa</vpcEndpointId>
                    <vpcEndpointType>Resource</vpcEndpointType>
                    <vpcId>vpc-0a1b2c3d4e5f67890</vpcId>
                    <state>failed</state>
                    <lastError>
                        <code>InsufficientFreeAddressesInSubnet</code>
                        <message>The subnet has no free addresses.</message>
                    </lastError>
                    <failureReason>Resource configuration is not shared with this account</failureReason>
                    <tagSet/>
                </item>
            </vpcEndpointSet>
            <nextToken>eyJ2IjoiMiIsImMiOiJ0b2tlbiJ9</nextToken>
        </DescribeVpcEndpointsResponse>
        """

    static let describeVpcEndpointAssociations = """
        <?xml version="1.0" encoding="UTF-8"?>
        <DescribeVpcEndpointAssociationsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
            <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
            <vpcEndpointAssociationSet>
                <item>
                    <id>vpce-rsc-asc-0123456789abcdef0</id>
                    <vpcEndpointId>vpce-019b90d6f16d4f958</vpcEndpointId>
                    <associatedResourceAccessibility>Accessible</associatedResourceAccessibility>
                    <dnsEntry>
                        <dnsName>vpce-019b90d6f16d4f958.rcfg-07129f3acded87625.4232ccc.vpc-lattice-rsc.us-east-2.on.aws</dnsName>
                        <hostedZoneId>Z0123456789ABCDEFGHIJ</hostedZoneId>
                    </dnsEntry>
                    <associatedResourceArn>arn:aws:vpc-lattice:us-east-2:444455556666:resourceconfiguration/rcfg-07129f3acded87625</associatedResourceArn>
                </item>
            </vpcEndpointAssociationSet>
        </DescribeVpcEndpointAssociationsResponse>
        """

    static let deleteVpcEndpoints = """
        <?xml version="1.0" encoding="UTF-8"?>
        <DeleteVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
            <requestId>b59a1e4d-0c3f-4d9a-8f0e-1e2d3c4bEXAMPLE</requestId>
            <unsuccessful>
                <item>
                    <error>
                        <code>InvalidVpcEndpoint.NotFound</code>
                        <message>The VPC endpoint 'vpce-0bbbbbbbbbbbbbbbb' does not exist</message>
                    </error>
                    <resourceId>vpce-0bbbbbbbbbbbbbbbb</resourceId>
                </item>
            </unsuccessful>
        </DeleteVpcEndpointsResponse>
        """

    static let getCallerIdentity = """
        <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <GetCallerIdentityResult>
            <Arn>arn:aws:sts::111122223333:assumed-role/privatelink-consumer/i-0123456789abcdef0</Arn>
            <UserId>AROAEXAMPLEID:i-0123456789abcdef0</UserId>
            <Account>111122223333</Account>
          </GetCallerIdentityResult>
          <ResponseMetadata>
            <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
          </ResponseMetadata>
        </GetCallerIdentityResponse>
        """

    static let assumeRoleWithWebIdentity = """
        <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <AssumeRoleWithWebIdentityResult>
            <SubjectFromWebIdentityToken>system:serviceaccount:privatelink:consumer</SubjectFromWebIdentityToken>
            <Audience>sts.amazonaws.com</Audience>
            <AssumedRoleUser>
              <Arn>arn:aws:sts::111122223333:assumed-role/privatelink-consumer/botocore-session-1735787045</Arn>
              <AssumedRoleId>AROAEXAMPLEID:botocore-session-1735787045</AssumedRoleId>
            </AssumedRoleUser>
            <Credentials>
              <AccessKeyId>ASIAEXAMPLEKEYID0000</AccessKeyId>
              <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
              <SessionToken>IQoJb3JpZ2luX2VjEXAMPLE+/token==</SessionToken>
              <Expiration>2025-01-02T04:04:05Z</Expiration>
            </Credentials>
            <Provider>arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/EXAMPLE</Provider>
          </AssumeRoleWithWebIdentityResult>
          <ResponseMetadata>
            <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
          </ResponseMetadata>
        </AssumeRoleWithWebIdentityResponse>
        """

    static let all: [String] = [
        describeVpcEndpoints, describeVpcEndpointAssociations, deleteVpcEndpoints, getCallerIdentity,
        assumeRoleWithWebIdentity,
    ]
}

private func parse(_ text: String, maxDepth: Int = 64, maxElements: Int = 1_000_000) throws(XMLParseError) -> XMLElement {
    try XMLDocumentParser.parse(Array(text.utf8), maxDepth: maxDepth, maxElements: maxElements)
}

/// The error `body` produces, or `nil` when it parses.
private func refusal(_ bytes: [UInt8], maxDepth: Int = 64, maxElements: Int = 1_000_000) -> XMLParseError? {
    do {
        _ = try XMLDocumentParser.parse(bytes, maxDepth: maxDepth, maxElements: maxElements)
        return nil
    } catch {
        return error
    }
}

// MARK: - Real response shapes

@Suite struct XMLDocumentParserResponseTests {
    @Test func describeVpcEndpoints() throws {
        let root = try parse(XMLFixtures.describeVpcEndpoints)
        #expect(root.name == "DescribeVpcEndpointsResponse")
        #expect(root.attributes == ["xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/"])
        #expect(root.text == "")
        #expect(root.childText("requestId") == "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        #expect(root.childText("nextToken") == "eyJ2IjoiMiIsImMiOiJ0b2tlbiJ9")

        let items = try #require(root.child("vpcEndpointSet")).children(named: "item")
        #expect(items.count == 2)
        let available = items[0]
        #expect(available.childText("vpcEndpointId") == "vpce-019b90d6f16d4f958")
        #expect(available.childText("state") == "Available")
        #expect(available.childText("ipAddressType") == "IPV4")
        #expect(available.path("subnetIdSet")?.children(named: "item").map(\.text)
            == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"])
        #expect(available.path("groupSet", "item", "groupId")?.text == "sg-0123456789abcdef0")
        #expect(available.child("dnsEntrySet") == XMLElement(name: "dnsEntrySet"))
        #expect(available.child("routeTableIdSet")?.children.isEmpty == true)
        let tags = try #require(available.child("tagSet")).children(named: "item").map {
            [$0.childText("key") ?? "?", $0.childText("value") ?? "?"]
        }
        #expect(tags == [["privatelink-consumer:customer", "acme"], ["Name", "acme & sons <prod>"]])
        #expect(available.childText("resourceConfigurationArn")
            == "arn:aws:vpc-lattice:us-east-2:444455556666:resourceconfiguration/rcfg-07129f3acded87625")
        #expect(available.child("lastError") == nil)

        let failed = items[1]
        #expect(failed.childText("state") == "failed")
        #expect(failed.path("lastError", "code")?.text == "InsufficientFreeAddressesInSubnet")
        #expect(failed.path("lastError", "message")?.text == "The subnet has no free addresses.")
        #expect(failed.child("tagSet")?.children.isEmpty == true)
        #expect(failed.path("tagSet", "item") == nil)
    }

    @Test func describeVpcEndpointAssociations() throws {
        let root = try parse(XMLFixtures.describeVpcEndpointAssociations)
        let item = try #require(root.path("vpcEndpointAssociationSet", "item"))
        #expect(item.childText("vpcEndpointId") == "vpce-019b90d6f16d4f958")
        #expect(item.childText("associatedResourceAccessibility") == "Accessible")
        #expect(item.path("dnsEntry", "dnsName")?.text
            == "vpce-019b90d6f16d4f958.rcfg-07129f3acded87625.4232ccc.vpc-lattice-rsc.us-east-2.on.aws")
        #expect(item.path("dnsEntry", "hostedZoneId")?.text == "Z0123456789ABCDEFGHIJ")
        #expect(item.child("privateDnsEntry") == nil)
    }

    @Test func deleteVpcEndpointsReportsPerItemFailures() throws {
        let root = try parse(XMLFixtures.deleteVpcEndpoints)
        let failures = try #require(root.child("unsuccessful")).children(named: "item")
        #expect(failures.count == 1)
        #expect(failures[0].path("error", "code")?.text == "InvalidVpcEndpoint.NotFound")
        #expect(failures[0].path("error", "message")?.text == "The VPC endpoint 'vpce-0bbbbbbbbbbbbbbbb' does not exist")
        #expect(failures[0].childText("resourceId") == "vpce-0bbbbbbbbbbbbbbbb")
    }

    @Test func stsGetCallerIdentity() throws {
        let root = try parse(XMLFixtures.getCallerIdentity)
        #expect(root.name == "GetCallerIdentityResponse")
        let result = try #require(root.child("GetCallerIdentityResult"))
        #expect(result.childText("Arn") == "arn:aws:sts::111122223333:assumed-role/privatelink-consumer/i-0123456789abcdef0")
        #expect(result.childText("UserId") == "AROAEXAMPLEID:i-0123456789abcdef0")
        #expect(result.childText("Account") == "111122223333")
        #expect(root.path("ResponseMetadata", "RequestId")?.text == "01234567-89ab-cdef-0123-456789abcdef")
    }

    @Test func stsAssumeRoleWithWebIdentity() throws {
        let root = try parse(XMLFixtures.assumeRoleWithWebIdentity)
        let credentials = try #require(root.path("AssumeRoleWithWebIdentityResult", "Credentials"))
        #expect(credentials.childText("AccessKeyId") == "ASIAEXAMPLEKEYID0000")
        #expect(credentials.childText("SecretAccessKey") == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
        #expect(credentials.childText("SessionToken") == "IQoJb3JpZ2luX2VjEXAMPLE+/token==")
        #expect(credentials.childText("Expiration") == "2025-01-02T04:04:05Z")
        #expect(root.path("AssumeRoleWithWebIdentityResult", "AssumedRoleUser", "Arn")?.text
            == "arn:aws:sts::111122223333:assumed-role/privatelink-consumer/botocore-session-1735787045")
    }
}

// MARK: - Syntax

@Suite struct XMLDocumentParserSyntaxTests {
    @Test func predefinedAndNumericEntities() throws {
        let root = try parse(#"<a b="x &amp; &quot;y&quot; &apos;&#65;&#x42;&#x62;">&lt;&gt;&amp;&apos;&quot; &#233;&#x1F600;&#0010;</a>"#)
        #expect(root.attributes["b"] == #"x & "y" 'ABb"#)
        #expect(root.text == "<>&'\" é😀\n")
    }

    @Test func cdataCommentsAndProcessingInstructions() throws {
        let root = try parse("""
            <?xml version='1.0'?>
            <!-- leading comment -->
            <?some-tool keep="me"?>
            <a>one<!-- inside --><![CDATA[<not markup> & ]]]]><![CDATA[>]]><?pi data?>two<![CDATA[]]></a>
            <!-- trailing comment --><?trailer?>

            """)
        #expect(root == XMLElement(name: "a", text: "one<not markup> & ]]>two"))
    }

    @Test func selfClosingTagsQuotesAndWhitespace() throws {
        let root = try parse("""
            <root><a x='single' y="double"/><b
              z = "spaced"
            /><c></c><d >text</d ></root>
            """)
        #expect(root.children == [
            XMLElement(name: "a", attributes: ["x": "single", "y": "double"]),
            XMLElement(name: "b", attributes: ["z": "spaced"]),
            XMLElement(name: "c"),
            XMLElement(name: "d", text: "text"),
        ])
    }

    @Test func namespacePrefixesAreStrippedFromElementNames() throws {
        let root = try parse(#"<ec2:Response xmlns:ec2="urn:x"><ec2:item xsi:nil="true">v</ec2:item></ec2:Response>"#)
        #expect(root.name == "Response")
        #expect(root.attributes == ["xmlns:ec2": "urn:x"])
        #expect(root.child("item") == XMLElement(name: "item", attributes: ["xsi:nil": "true"], text: "v"))
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let root = try XMLDocumentParser.parse([0xEF, 0xBB, 0xBF] + Array(#"<?xml version="1.0"?><a>é</a>"#.utf8))
        #expect(root == XMLElement(name: "a", text: "é"))
    }

    @Test func leafTextIsExactAndIndentationBetweenChildrenIsDropped() throws {
        let root = try parse("<a>\n  <b>  padded value  </b>\n  <c>\n</c>\n</a>")
        #expect(root.text == "")
        #expect(root.childText("b") == "  padded value  ")
        #expect(root.childText("c") == "\n")
        #expect(root.childText("missing") == nil)
    }

    @Test func lineEndsAreNormalized() throws {
        let root = try parse("<a v=\"1\r\n2\t3\">x\r\ny\rz</a>")
        #expect(root.text == "x\ny\nz")
        #expect(root.attributes["v"] == "1 2 3")
    }

    @Test func helpersWalkTheTree() throws {
        let root = try parse("<r><s><t>1</t><t>2</t></s><s><t>3</t></s></r>")
        #expect(root.children(named: "s").count == 2)
        #expect(root.path("s", "t")?.text == "1")
        #expect(root.path() == root)
        #expect(root.path("s", "u") == nil)
        #expect(root.children(named: "t").isEmpty)
    }
}

// MARK: - Refusals

/// A document the parser must refuse, and why.
struct RefusalCase: Sendable, CustomTestStringConvertible {
    var label: String
    var bytes: [UInt8]
    var code: XMLParseError.Code

    init(_ label: String, _ text: String, _ code: XMLParseError.Code) {
        self.init(label, Array(text.utf8), code)
    }

    init(_ label: String, _ bytes: [UInt8], _ code: XMLParseError.Code) {
        self.label = label
        self.bytes = bytes
        self.code = code
    }

    var testDescription: String { label }
}

@Suite struct XMLDocumentParserRefusalTests {
    static let cases: [RefusalCase] = [
        RefusalCase("empty", "", .emptyDocument),
        RefusalCase("whitespace only", " \n\t ", .emptyDocument),
        RefusalCase("prolog only", #"<?xml version="1.0"?><!-- nothing -->"#, .emptyDocument),
        RefusalCase("BOM only", [0xEF, 0xBB, 0xBF], .emptyDocument),
        RefusalCase(
            "XXE", #"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#,
            .forbiddenDeclaration),
        RefusalCase("billion laughs", #"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>"#, .forbiddenDeclaration),
        RefusalCase("plain DOCTYPE", "<!DOCTYPE a><a/>", .forbiddenDeclaration),
        RefusalCase("ENTITY inside content", #"<a><!ENTITY x "y"></a>"#, .forbiddenDeclaration),
        RefusalCase("undeclared entity", "<a>&xxe;</a>", .unknownEntity),
        RefusalCase("HTML entity", "<a>&nbsp;</a>", .unknownEntity),
        RefusalCase("unknown entity in attribute", #"<a b="&copy;"/>"#, .unknownEntity),
        RefusalCase("bare ampersand", "<a>AT&T rocks</a>", .malformed),
        RefusalCase("empty reference", "<a>&;</a>", .malformed),
        RefusalCase("bad hex reference", "<a>&#xZZ;</a>", .malformed),
        RefusalCase("NUL reference", "<a>&#0;</a>", .invalidCharacter),
        RefusalCase("surrogate reference", "<a>&#xD800;</a>", .invalidCharacter),
        RefusalCase("reference above U+10FFFF", "<a>&#x110000;</a>", .invalidCharacter),
        RefusalCase("huge decimal reference", "<a>&#99999999999999999999;</a>", .invalidCharacter),
        RefusalCase("empty numeric reference", "<a>&#;</a>", .invalidCharacter),
        RefusalCase("mismatched end tag", "<a><b></a></b>", .mismatchedTag),
        RefusalCase("wrong root end tag", "<a></b>", .mismatchedTag),
        RefusalCase("end tag differs in prefix", "<x:a></y:a>", .mismatchedTag),
        RefusalCase("unclosed root", "<a>", .unexpectedEnd),
        RefusalCase("unclosed child", "<a><b/>", .unexpectedEnd),
        RefusalCase("unterminated CDATA", "<a><![CDATA[ never ends</a>", .unexpectedEnd),
        RefusalCase("unterminated comment", "<a><!-- never ends</a>", .unexpectedEnd),
        RefusalCase("text after root", "<a/>trailing", .contentAfterRoot),
        RefusalCase("second root element", "<a/><b/>", .contentAfterRoot),
        RefusalCase("text before root", "leading<a/>", .malformed),
        RefusalCase("duplicate attribute", #"<a b="1" b="2"/>"#, .malformed),
        RefusalCase("unquoted attribute", "<a b=1/>", .malformed),
        RefusalCase("attribute without value", "<a b/>", .malformed),
        RefusalCase("attributes not separated", #"<a b="1"c="2"/>"#, .malformed),
        RefusalCase("< in attribute", #"<a b="<"/>"#, .malformed),
        RefusalCase("]]> in text", "<a>]]></a>", .malformed),
        RefusalCase("-- in comment", "<a><!-- x -- y --></a>", .malformed),
        RefusalCase("XML declaration inside", #"<a><?xml version="1.0"?></a>"#, .malformed),
        RefusalCase("space after <", "< a/>", .malformed),
        RefusalCase("name starting with a digit", "<1a/>", .malformed),
        RefusalCase("Latin-1 declaration", #"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#, .invalidCharacter),
        RefusalCase("invalid UTF-8 byte", [0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("overlong encoding", [0x3C, 0x61, 0x3E, 0xC0, 0xAF, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("encoded surrogate", [0x3C, 0x61, 0x3E, 0xED, 0xA0, 0x80, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("cut multi-byte sequence", [0x3C, 0x61, 0x3E, 0xE2, 0x82, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("beyond U+10FFFF", [0x3C, 0x61, 0x3E, 0xF5, 0x80, 0x80, 0x80, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("control character", "<a>\u{01}</a>", .invalidCharacter),
        RefusalCase("NUL byte", [0x3C, 0x61, 0x3E, 0x00, 0x3C, 0x2F, 0x61, 0x3E], .invalidCharacter),
        RefusalCase("U+FFFF", "<a>\u{FFFF}</a>", .invalidCharacter),
    ]

    @Test(arguments: cases)
    func refuses(_ refusal: RefusalCase) {
        let error = refusalError(refusal.bytes)
        #expect(error?.code == refusal.code, "\(error.map(String.init(describing:)) ?? "parsed")")
    }

    @Test func errorNamesTheProblemAndTheByteOffset() throws {
        let error = try #require(refusalError(Array("<a><b></a>".utf8)))
        #expect(error.offset == 6)
        #expect(error.description == "XML parse error at byte 6 (mismatched tag): end tag </a> does not match <b> opened at byte 3")
        let truncated = try #require(refusalError(Array("<a><item>".utf8)))
        #expect(truncated.offset == 9)
        #expect(truncated.description.contains("<item>"))
    }

    @Test(arguments: XMLFixtures.all.indices)
    func everyTruncationOfARealResponseIsRefused(_ index: Int) throws {
        let document = Array(XMLFixtures.all[index].utf8)
        _ = try XMLDocumentParser.parse(document)
        var wrongCodes: [Int] = []
        for length in 0..<document.count {
            guard let error = refusalError(Array(document[..<length])) else {
                Issue.record("a prefix of \(length) of \(document.count) bytes parsed")
                continue
            }
            if error.code != .unexpectedEnd, error.code != .emptyDocument { wrongCodes.append(length) }
        }
        #expect(wrongCodes.isEmpty, "prefixes refused for another reason than truncation: \(wrongCodes)")
    }

    @Test func mutatedResponsesNeverCrash() {
        // SplitMix64, seeded: the same mutations on every run.
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let interesting = Array("<>/&;#x![]-?='\"\u{00}\u{80}\u{FF}".utf8)
        var parsed = 0
        for fixture in XMLFixtures.all {
            let original = Array(fixture.utf8)
            for _ in 0..<400 {
                var mutated = original
                for _ in 0..<(1 + Int(next() % 4)) {
                    let index = Int(next() % UInt64(mutated.count))
                    switch next() % 3 {
                    case 0: mutated[index] = interesting[Int(next() % UInt64(interesting.count))]
                    case 1: mutated.remove(at: index)
                    default: mutated.insert(interesting[Int(next() % UInt64(interesting.count))], at: index)
                    }
                }
                if refusalError(mutated) == nil { parsed += 1 }
            }
        }
        // Some mutations land in text and stay well-formed; most must be refused.
        #expect(parsed < 5 * 400)
    }

    @Test func depthLimit() throws {
        func nested(_ depth: Int) -> [UInt8] {
            Array((String(repeating: "<d>", count: depth) + String(repeating: "</d>", count: depth)).utf8)
        }
        #expect(throws: Never.self) { try XMLDocumentParser.parse(nested(64)) }
        #expect(refusalError(nested(65))?.code == .depthLimitExceeded)
        #expect(refusalError(nested(10_000))?.code == .depthLimitExceeded)
        #expect(refusalError(Array(String(repeating: "<d>", count: 10_000).utf8))?.code == .depthLimitExceeded)
        #expect(throws: Never.self) { try XMLDocumentParser.parse(nested(3), maxDepth: 3) }
        #expect(refusalError(nested(4), maxDepth: 3)?.code == .depthLimitExceeded)
    }

    @Test func elementLimit() {
        let document = Array("<a><b/><b/><b/></a>".utf8)
        #expect(throws: Never.self) { try XMLDocumentParser.parse(document, maxElements: 4) }
        #expect(refusalError(document, maxElements: 3)?.code == .elementLimitExceeded)
    }

    private func refusalError(_ bytes: [UInt8], maxDepth: Int = 64, maxElements: Int = 1_000_000) -> XMLParseError? {
        refusal(bytes, maxDepth: maxDepth, maxElements: maxElements)
    }
}

// MARK: - Size

@Suite struct XMLDocumentParserSizeTests {
    @Test func largeDescribeVpcEndpointsPageParsesInLinearTime() throws {
        let itemCount = 20_000
        var document = Array(#"<?xml version="1.0" encoding="UTF-8"?><DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcEndpointSet>"#.utf8)
        let padding = String(repeating: "x", count: 20)
        for index in 0..<itemCount {
            document += Array("""
                <item><vpcEndpointId>vpce-\(index)</vpcEndpointId><vpcEndpointType>Resource</vpcEndpointType>\
                <vpcId>vpc-0a1b2c3d4e5f67890</vpcId><state>available</state><subnetIdSet><item>subnet-1</item>\
                <item>subnet-2</item></subnetIdSet><dnsEntrySet/><tagSet><item><key>privatelink-consumer:customer</key>\
                <value>customer-\(index) &amp; co</value></item><item><key>note</key><value><![CDATA[\(padding)]]></value>\
                </item></tagSet><!-- \(padding) --><resourceConfigurationArn>arn:aws:vpc-lattice:us-east-2:444455556666:\
                resourceconfiguration/rcfg-\(index)</resourceConfigurationArn></item>

                """.utf8)
        }
        document += Array("</vpcEndpointSet><nextToken>t</nextToken></DescribeVpcEndpointsResponse>".utf8)
        #expect(document.count > 5_000_000)

        let clock = ContinuousClock()
        var root: XMLElement?
        let elapsed = try clock.measure { root = try XMLDocumentParser.parse(document) }
        let items = try #require(root?.child("vpcEndpointSet")).children(named: "item")
        #expect(items.count == itemCount)
        #expect(items.last?.childText("vpcEndpointId") == "vpce-\(itemCount - 1)")
        #expect(items.last?.path("tagSet", "item", "value")?.text == "customer-\(itemCount - 1) & co")
        #expect(items.last?.children(named: "tagSet").first?.children.last?.childText("value") == padding)
        #expect(root?.childText("nextToken") == "t")
        // Generous enough for a debug build on a loaded machine; a quadratic parser takes minutes.
        #expect(elapsed < .seconds(30))
    }
}

/// Elements handed over as they close (a long listing is not held as a tree beside what is made of it).
@Suite struct XMLDocumentParserHandOverTests {
    static let listing = Array("""
        <DescribeVpcEndpointsResponse><vpcEndpointSet><item><vpcEndpointId>vpce-1</vpcEndpointId></item>\
        <item/><other>x</other><item><vpcEndpointId>vpce-3</vpcEndpointId></item></vpcEndpointSet>\
        <nextToken>t</nextToken><item>not in the set</item></DescribeVpcEndpointsResponse>
        """.utf8)

    @Test func takenElementsLeaveTheTreeWithTheirDepthAndParent() throws {
        var offered: [(Int, String, String)] = []
        var taken: [XMLElement] = []
        let root = try XMLDocumentParser.parse(Self.listing) { depth, parent, element in
            offered.append((depth, parent, element.name))
            guard depth == 3, parent == "vpcEndpointSet", element.name == "item" else { return false }
            taken.append(element)
            return true
        }
        #expect(taken.map { $0.childText("vpcEndpointId") } == ["vpce-1", nil, "vpce-3"])
        // What was not taken stays where it was.
        #expect(root.child("vpcEndpointSet")?.children.map(\.name) == ["other"])
        #expect(root.childText("nextToken") == "t")
        #expect(root.children(named: "item").map(\.text) == ["not in the set"])
        // Every element below the root is offered once, leaves before their parents; the root never.
        #expect(offered.count == 9, "\(offered)")
        #expect(offered.contains { $0 == (2, "DescribeVpcEndpointsResponse", "item") })
        #expect(!offered.contains { $0.2 == "DescribeVpcEndpointsResponse" })
    }

    @Test func aDocumentThatBreaksAfterTheHandOverStillFails() {
        let truncated = Array(Self.listing.prefix(150))
        var taken = 0
        #expect(throws: XMLParseError.self) {
            try XMLDocumentParser.parse(truncated) { depth, _, element in
                guard depth == 3, element.name == "item" else { return false }
                taken += 1
                return true
            }
        }
        // Items were handed over before the break: the caller drops them when the parse throws.
        #expect(taken >= 1)
    }
}
