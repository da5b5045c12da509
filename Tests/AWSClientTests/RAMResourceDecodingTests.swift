import AWSClient
import Foundation
import Testing

/// RAM's resources as ListResources and ListPendingInvitationResources answer them.
struct RAMResourceDecodingTests {
    static let json = Data("""
        [{"arn": "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-00000000000000001",
          "type": "vpc-lattice:ResourceConfiguration", "resourceShareArn": "arn:aws:ram:us-east-1:111122223333:resource-share/a",
          "status": "AVAILABLE", "creationTime": 1.7e9},
         {"arn": "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-00000000000000002",
          "type": "vpc-lattice:ResourceConfiguration"},
         {"arn": "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0aaaaaaaaaaaaaaaa", "type": "ec2:Subnet",
          "status": "ZONAL_RESOURCE_INACCESSIBLE", "statusMessage": "not in this zone"}]
        """.utf8)

    static func storage(_ text: String) -> UnsafeRawPointer? {
        text.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
    }

    @Test func fieldsAreReadAndAResourceConfigurationsTypeIsTheConstant() throws {
        let resources = try JSONDecoder().decode([RAMResource].self, from: Self.json)
        #expect(resources[0] == RAMResource(arn: "arn:aws:vpc-lattice:us-east-1:111122223333:resourceconfiguration/rcfg-00000000000000001",
                                            type: RAMResource.resourceConfigurationType,
                                            resourceShareArn: "arn:aws:ram:us-east-1:111122223333:resource-share/a", status: "AVAILABLE"))
        #expect(resources[1].resourceShareArn == nil && resources[1].status == nil && resources[1].isResourceConfiguration)
        #expect(resources[2].type == "ec2:Subnet" && resources[2].statusMessage == "not in this zone")
        // 10,000 resource configurations hold one type string between them, not a decoded copy each.
        let constant = Self.storage(RAMResource.resourceConfigurationType)
        #expect(constant != nil)
        #expect(Self.storage(resources[0].type) == constant && Self.storage(resources[1].type) == constant)
    }

    @Test func aResourceWithoutItsArnOrTypeIsRefused() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RAMResource].self, from: Data(#"[{"type": "ec2:Subnet"}]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([RAMResource].self, from: Data(#"[{"arn": "arn:x"}]"#.utf8)) }
    }
}
