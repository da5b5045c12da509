import AWSModels
@testable import ConsumerCore
import Foundation
import Testing

/// Placement in a region's VPC pool, as tables.
@Suite struct VpcCapacityTests {
    static func endpoint(_ vpc: String, _ state: String = "available", ours: Bool = true) -> VpcEndpoint {
        VpcEndpoint(vpcEndpointId: "vpce-\(UUID().uuidString.prefix(8))", state: VpcEndpointState(state), vpcId: vpc,
                    resourceConfigurationArn: nil, tags: ours ? [EndpointTags.customerKey: "x"] : [:])
    }

    @Test(arguments: [
        // quota, maxEndpoints → limit, source
        (200, nil, 200, VpcCapacity.LimitSource.serviceQuotas),
        (200, 50, 50, .maxEndpoints),
        (3, 50, 3, .serviceQuotas),
    ] as [(Int, Int?, Int, VpcCapacity.LimitSource)])
    func aVpcsLimitIsTheQuotaOrTheOperatorsLowerCap(_ quota: Int, _ max: Int?, _ limit: Int, _ source: VpcCapacity.LimitSource) {
        let (got, from) = VpcCapacity.limit(quota: quota, quotaFromServiceQuotas: true, maxEndpoints: max)
        #expect(got == limit && from == source)
        #expect(VpcCapacity.limit(quota: 200, quotaFromServiceQuotas: false, maxEndpoints: nil).1 == .default)
    }

    @Test func placementFillsThePoolInConfiguredOrder() {
        let listed = [Self.endpoint("vpc-a"), Self.endpoint("vpc-a"), Self.endpoint("vpc-a", "deleting"), Self.endpoint("vpc-a", "deleted"),
                      Self.endpoint("vpc-b"), Self.endpoint("vpc-a", ours: false)]
        let pool = VpcCapacity.pool([("vpc-a", nil), ("vpc-b", 2), ("vpc-c", nil)], listed: listed, quota: 3,
                                    quotaFromServiceQuotas: true, full: [:])
        // Deleting still takes its place; deleted and not ours do not.
        #expect(pool.map(\.endpoints) == [3, 1, 0])
        #expect(pool.map(\.room) == [0, 1, 3])
        #expect(VpcCapacity.place(in: pool) == "vpc-b")
        // A VPC EC2 refused is full whatever the counts say, until the quota is read again.
        let refused = VpcCapacity.pool([("vpc-a", nil), ("vpc-b", 2), ("vpc-c", nil)], listed: listed, quota: 3, quotaFromServiceQuotas: true,
                                       full: ["vpc-b": ("VpcEndpointLimitExceeded", 1)])
        #expect(VpcCapacity.place(in: refused) == "vpc-c")
        // Once it holds fewer endpoints than when EC2 refused (one was deleted), the mark no longer holds.
        let freed = VpcCapacity.pool([("vpc-a", nil), ("vpc-b", 2), ("vpc-c", nil)], listed: listed, quota: 3, quotaFromServiceQuotas: true,
                                     full: ["vpc-b": ("VpcEndpointLimitExceeded", 2)])
        #expect(VpcCapacity.place(in: freed) == "vpc-b")
        let full = VpcCapacity.pool([("vpc-a", nil)], listed: listed, quota: 3, quotaFromServiceQuotas: true, full: [:])
        #expect(VpcCapacity.place(in: full) == nil)
    }

    @Test func ec2sAnswersMapToOutcomes() {
        #expect(AWSOutcomes.create(refusalCode: "VpcEndpointLimitExceeded", message: "m") == .noRoom(code: "VpcEndpointLimitExceeded", message: "m"))
        #expect(AWSOutcomes.create(refusalCode: "InsufficientFreeAddressesInSubnet", message: "m")
                == .noRoom(code: "InsufficientFreeAddressesInSubnet", message: "m"))
        #expect(AWSOutcomes.create(refusalCode: "InvalidParameterValue", message: "m") == .refused(code: "InvalidParameterValue", message: "m"))
        #expect(AWSOutcomes.create(refusalCode: "IdempotentParameterMismatch", message: "m") == .idempotentMismatch(message: "m"))
        #expect(AWSOutcomes.create(refusalCode: "UnauthorizedOperation", message: "m") == nil)
    }

    @Test func onlyEC2sCapacityCodesMeanNoRoom() {
        #expect(VpcCapacity.isCapacityRefusal("VpcEndpointLimitExceeded"))
        #expect(VpcCapacity.isCapacityRefusal("InsufficientFreeAddressesInSubnet"))
        #expect(!VpcCapacity.isCapacityRefusal("InvalidParameterValue"))
        #expect(VpcCapacity.fullHint(region: "us-east-1").contains("L-CA6CC422"))
    }
}
