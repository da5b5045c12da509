import AWSClient
import Foundation
import LatticeSimulator
import Testing
import TestSupport

/// The capacity AWS gives a VPC, through the real clients against the simulator: Service Quotas'
/// GetServiceQuota (awsJson1_1, signed for `servicequotas`), and EC2's own refusals when a VPC holds all the
/// endpoints it may (`VpcEndpointLimitExceeded`) or a subnet has no address left (`InsufficientFreeAddressesInSubnet`).
@Suite(.timeLimit(.minutes(1)))
struct CapacityTests {
    func quotas(_ clients: SimulatorClients) -> ServiceQuotasClient {
        ServiceQuotasClient(executor: clients.executor, credentials: clients.credentials, region: clients.region)
    }

    @Test func getServiceQuotaAnswersTheAppliedValue() async throws {
        try await withSimulator { simulator, clients in
            let client = quotas(clients)
            let first = try await client.serviceQuota(serviceCode: "vpc", quotaCode: "L-CA6CC422")
            #expect(first == 200)
            simulator.setServiceQuota(3)
            let lowered = try await client.serviceQuota(serviceCode: "vpc", quotaCode: "L-CA6CC422")
            #expect(lowered == 3)
            #expect(simulator.callCounts["service-quotas:GetServiceQuota"] == 2)
        }
    }

    @Test func aMissingQuotaAndAnAccessDeniedAreTheirOwnErrors() async throws {
        try await withSimulator { simulator, clients in
            simulator.setServiceQuota(nil)
            let missing = await #expect(throws: AWSClientError.self) {
                _ = try await quotas(clients).serviceQuota(serviceCode: "vpc", quotaCode: "L-CA6CC422")
            }
            #expect(missing?.code == "NoSuchResourceException")
            simulator.setServiceQuota(200)
            simulator.denyServiceQuotas()
            let denied = await #expect(throws: AWSClientError.self) {
                _ = try await quotas(clients).serviceQuota(serviceCode: "vpc", quotaCode: "L-CA6CC422")
            }
            #expect(denied?.code == "AccessDeniedException")
            #expect(denied?.isRefusal == true)
        }
    }

    @Test func aFullVpcAndAFullSubnetAreRefusedWithEC2sCodes() async throws {
        try await withSimulator { simulator, clients in
            let arns = EC2ClientTests.share(simulator, 4)
            simulator.setVpcEndpointLimit(2, vpcId: EC2ClientTests.vpc)
            _ = try await clients.ec2.createResourceEndpoint(.test(arns[0], clientToken: "c-0"))
            _ = try await clients.ec2.createResourceEndpoint(.test(arns[1], clientToken: "c-1"))
            let full = await #expect(throws: AWSClientError.self) {
                _ = try await clients.ec2.createResourceEndpoint(.test(arns[2], clientToken: "c-2"))
            }
            #expect(full?.code == "VpcEndpointLimitExceeded")
            #expect(full?.isRefusal == true)
            // Another VPC has room; its second subnet has no address left.
            simulator.setSubnetAddresses(0, subnetId: "subnet-0dddddddddddddddd")
            let other = ResourceEndpointRequest.test(arns[2], clientToken: "c-3", vpcId: "vpc-0fedcba9876543210",
                                                     subnetIds: ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"])
            let noAddress = await #expect(throws: AWSClientError.self) { _ = try await clients.ec2.createResourceEndpoint(other) }
            #expect(noAddress?.code == "InsufficientFreeAddressesInSubnet")
            simulator.setSubnetAddresses(nil, subnetId: "subnet-0dddddddddddddddd")
            #expect(try await clients.ec2.createResourceEndpoint(other).vpcId == "vpc-0fedcba9876543210")
            // A deleted endpoint frees its place.
            let endpoints = simulator.endpoints.filter { $0.vpcId == EC2ClientTests.vpc }
            _ = try await clients.ec2.deleteVpcEndpoints(ids: [endpoints[0].id])
            _ = try await clients.ec2.resourceEndpoints(inVpc: EC2ClientTests.vpc).collectAll()
            _ = try await clients.ec2.resourceEndpoints(inVpc: EC2ClientTests.vpc).collectAll()
            #expect(try await clients.ec2.createResourceEndpoint(.test(arns[3], clientToken: "c-4")).vpcId == EC2ClientTests.vpc)
        }
    }
}
