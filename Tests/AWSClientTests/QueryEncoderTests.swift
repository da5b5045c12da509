import AWSClient
import Testing

@Suite struct QueryEncoderTests {
    @Test func actionAndVersionComeFirstThenInsertionOrder() {
        var query = QueryParameters(action: "DescribeVpcEndpoints", version: "2016-11-15")
        query.add("Filter.1.Name", "tag:privatelink-consumer:customer")
        query.addList("Filter.1.Value", ["acme"])
        query.add("MaxResults", 1000)
        query.add("NextToken", "eyJ2IjoiMiJ9")
        #expect(query.body == """
            Action=DescribeVpcEndpoints&Version=2016-11-15\
            &Filter.1.Name=tag%3Aprivatelink-consumer%3Acustomer&Filter.1.Value.1=acme\
            &MaxResults=1000&NextToken=eyJ2IjoiMiJ9
            """)
    }

    @Test func createVpcEndpoint() {
        var query = QueryParameters(action: "CreateVpcEndpoint", version: "2016-11-15")
        query.add("VpcEndpointType", "Resource")
        query.add("ResourceConfigurationArn", "arn:aws:vpc-lattice:us-east-2:444455556666:resourceconfiguration/rcfg-07129f3acded87625")
        query.add("VpcId", "vpc-0a1b2c3d4e5f67890")
        query.addList("SubnetId", ["subnet-1", "subnet-2"])
        query.addList("SecurityGroupId", [])
        query.add("PrivateDnsEnabled", false)
        query.add("TagSpecification.1.ResourceType", "vpc-endpoint")
        query.add("TagSpecification.1.Tag.1.Key", "privatelink-consumer:customer")
        query.add("TagSpecification.1.Tag.1.Value", "acme")
        query.add("DryRun", true)
        #expect(query.body == """
            Action=CreateVpcEndpoint&Version=2016-11-15&VpcEndpointType=Resource\
            &ResourceConfigurationArn=arn%3Aaws%3Avpc-lattice%3Aus-east-2%3A444455556666%3Aresourceconfiguration%2Frcfg-07129f3acded87625\
            &VpcId=vpc-0a1b2c3d4e5f67890&SubnetId.1=subnet-1&SubnetId.2=subnet-2&PrivateDnsEnabled=false\
            &TagSpecification.1.ResourceType=vpc-endpoint&TagSpecification.1.Tag.1.Key=privatelink-consumer%3Acustomer\
            &TagSpecification.1.Tag.1.Value=acme&DryRun=true
            """)
        #expect(query.fields.count == 10)
    }

    @Test func emptyRequest() {
        #expect(QueryParameters(action: "GetCallerIdentity", version: "2011-06-15").body
            == "Action=GetCallerIdentity&Version=2011-06-15")
    }

    @Test(arguments: [
        (":", "%3A"), ("/", "%2F"), (" ", "%20"), ("+", "%2B"), ("=", "%3D"), ("&", "%26"), ("%", "%25"),
        ("*", "%2A"), ("é", "%C3%A9"), ("😀", "%F0%9F%98%80"), ("AZaz09-_.~", "AZaz09-_.~"), ("", ""),
    ])
    func percentEncoding(_ raw: String, _ encoded: String) {
        var query = QueryParameters(action: "A", version: "1")
        query.add("k\(raw)", raw)
        #expect(query.body == "Action=A&Version=1&k\(encoded)=\(encoded)")
        #expect(QueryParameters.percentEncode(raw) == encoded)
    }

    @Test func integersAndBooleans() {
        var query = QueryParameters(action: "A", version: "1")
        query.add("Zero", 0)
        query.add("Negative", -5)
        query.add("Yes", true)
        query.add("No", false)
        #expect(query.body == "Action=A&Version=1&Zero=0&Negative=-5&Yes=true&No=false")
    }

    @Test func equality() {
        var first = QueryParameters(action: "A", version: "1")
        var second = QueryParameters(action: "A", version: "1")
        #expect(first == second)
        first.add("x", "1")
        #expect(first != second)
        second.add("x", "1")
        #expect(first == second)
    }
}

@Suite struct FormDecoderTests {
    @Test func decodesPercentEscapesAndPlus() {
        #expect(FormDecoder.decode("Action=DescribeVpcEndpoints&Filter.1.Name=tag%3Aa%3Ab&x=a+b%2Bc%20d&utf=%C3%A9%f0%9f%98%80")
            == [
                QueryField(name: "Action", value: "DescribeVpcEndpoints"),
                QueryField(name: "Filter.1.Name", value: "tag:a:b"),
                QueryField(name: "x", value: "a b+c d"),
                QueryField(name: "utf", value: "é😀"),
            ])
    }

    @Test func edgeCases() {
        #expect(FormDecoder.decode("") == [])
        #expect(FormDecoder.decode("&&a=1&&") == [QueryField(name: "a", value: "1")])
        #expect(FormDecoder.decode("flag&empty=&eq=a=b") == [
            QueryField(name: "flag", value: ""),
            QueryField(name: "empty", value: ""),
            QueryField(name: "eq", value: "a=b"),
        ])
        #expect(FormDecoder.decode("dup=1&dup=2").map(\.value) == ["1", "2"])
        #expect(FormDecoder.decode("bad=%zz%4&end=%") == [
            QueryField(name: "bad", value: "%zz%4"), QueryField(name: "end", value: "%"),
        ])
        #expect(FormDecoder.decode("k=%FF").first?.value == "\u{FFFD}")
    }

    @Test func roundTripsTheEncoder() {
        let values = [
            "tag:privatelink-consumer:customer", "a b+c=d&e/f?g#h%i", "é 😀 ü", "~-_.", "", "line\nbreak", "+++",
        ]
        var query = QueryParameters(action: "CreateVpcEndpoint", version: "2016-11-15")
        for (index, value) in values.enumerated() {
            query.add("Tag.\(index + 1).Key \(value)", value)
        }
        query.addList("SubnetId", ["subnet-1", "subnet 2"])
        let decoded = FormDecoder.decode(query.body)
        #expect(decoded == [QueryField(name: "Action", value: "CreateVpcEndpoint"), QueryField(name: "Version", value: "2016-11-15")]
            + query.fields)
    }
}
