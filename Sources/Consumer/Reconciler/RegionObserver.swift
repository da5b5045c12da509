import AWSClient
import ConsumerStore
import Foundation
import Logging

/// The first step of a region's pass: what AWS says (invitations, shared resources, our endpoints, the
/// DNS names a pass needs) and, for what a listing left out that a decision would act on, the lookups
/// that confirm or refute the absence. It reads and reports; the planner decides.
struct RegionObserver: Sendable {
    let aws: any ReconcilerAWS
    let capacity: CapacityBook
    let store: any StateStore
    let config: ConsumerConfig
    let policy: ReconcilePolicy
    let now: @Sendable () -> Date
    let logger: Logger

    /// The invitation records this pass needs: those of the invitations RAM lists, and for customers still
    /// waiting for a share, the ones that tell why (expired, rejected). None of the rest of the history.
    func invitationRecords(for invitations: [ResourceShareInvitation], customers: [Customer], region: String) async throws -> [String: InvitationRecord] {
        let waiting = customers.filter { $0.region == region && [.awaitingShare, .accepting, .shareExpired, .shareRejected].contains($0.state) }
        return try await store.invitationRecords(invitationArns: Set(invitations.map(\.resourceShareInvitationArn)),
                                                 resourceArns: Set(waiting.map(\.resourceConfigurationArn)),
                                                 senders: Set(waiting.map(\.accountId)))
    }

    func observe(_ region: String, snapshot: RegistrySnapshot, invitations: [ResourceShareInvitation]) async throws -> RegionObservation {
        var observation = RegionObservation(region: region)
        observation.invitations = invitations
        for invitation in observation.invitations where invitation.isPending {
            let arn = invitation.resourceShareInvitationArn
            if let record = snapshot.invitations[arn] {
                // A pending invitation's resources do not change: ask RAM once, remember them.
                observation.pendingResources[arn] = record.resources.map {
                    RAMResource(arn: $0.arn, type: $0.type, resourceShareArn: invitation.resourceShareArn, status: "AVAILABLE")
                }
                continue
            }
            switch try await pendingResources(arn, region: region) {
            case .success(let resources): observation.pendingResources[arn] = resources
            case .failure(let error): observation.unlistable[arn] = error.code ?? error.message
            }
        }
        let listed: [VpcEndpoint]
        (observation.sharedResources, listed) = try await listings(region, snapshot: snapshot)
        // Another deployment's endpoints (staging beside production in one VPC) are never ours to adopt, delete
        // or match: only the VPC's capacity counts them. What our own generations record stays ours whatever its
        // tag says (an endpoint made before a non-default deployment was configured).
        let known = snapshot.knownEndpointIds
        let ours = { (endpoint: VpcEndpoint) in EndpointTags.belongs(endpoint, to: self.config.deployment) || known.contains(endpoint.vpcEndpointId) }
        observation.endpoints = listed.keeping(ours)
        observation.othersInPool = listed.filter { !ours($0) }
        await readQuotaIfDue(region)
        await confirmAbsences(&observation, snapshot: snapshot)
        let registered = snapshot.customers.keeping { $0.region == region && $0.state != .removing }
        observation.match = ReconcilePlanner.matchUnrecorded(observation, snapshot: snapshot, registered: registered)
        // DNS names only for available endpoints whose name we do not know yet: none in steady state.
        let needed = ReconcilePlanner.dnsNamesNeeded(observation, snapshot: snapshot)
        if !needed.isEmpty {
            observation.record(associations: try await aws.associations(region: region, endpointIds: needed))
        }
        return observation
    }

    /// RAM's resource configurations shared with us and EC2's endpoints in the region's VPCs, holding the
    /// registry's strings where they repeat them (``KnownStrings``; dropped once both are read).
    func listings(_ region: String, snapshot: RegistrySnapshot) async throws(AWSClientError) -> ([String: RAMResource], [VpcEndpoint]) {
        let known = Self.repeatedByAWS(snapshot, region: region)
        return (try await aws.sharedResourceConfigurations(region: region, known: known),
                try await aws.resourceEndpoints(region: region, vpcIds: config.regions[region]!.vpcIds, known: known))
    }

    /// The strings of the region's customers that AWS's listings repeat: resource and share ARNs, names (our
    /// customer tag) and their endpoints' ids.
    static func repeatedByAWS(_ snapshot: RegistrySnapshot, region: String) -> KnownStrings {
        // Room for the region's four strings a customer (its endpoint ids are mostly one).
        var known = KnownStrings(minimumCapacity: snapshot.customers.lazy.filter { $0.region == region }.count * 4)
        for customer in snapshot.customers where customer.region == region {
            known.insert(customer.resourceConfigurationArn)
            known.insert(customer.name)
            if let share = customer.resourceShareArn { known.insert(share) }
            for row in snapshot.openEndpoints[customer.id ?? -1] ?? [] {
                if let id = row.vpcEndpointId { known.insert(id) }
            }
        }
        return known
    }

    /// Asks AWS about each thing a listing left out that the planner would otherwise act on (AWS's listings
    /// are eventually consistent: one answer can leave out something that exists): an endpoint by its id,
    /// a resource by its ARN. None in steady state.
    func confirmAbsences(_ observation: inout RegionObservation, snapshot: RegistrySnapshot) async {
        let region = observation.region
        let questions = ReconcilePlanner.absencesToConfirm(observation, snapshot: snapshot, policy: policy, now: now())
        for id in questions.endpointIds {
            let lookup: RegionObservation.Lookup<VpcEndpoint>
            do {
                lookup = try await aws.vpcEndpoint(region: region, id: id).map { .found($0) } ?? .absent
            } catch {
                lookup = .unanswered(error.code ?? error.kind.description)
            }
            logger.info("endpoint not listed; looked up by id", metadata: ["ec2.endpoint": "\(id)", "answer": "\(Self.describe(lookup))"])
            observation.record(endpointLookup: id, lookup)
        }
        for arn in questions.resourceArns {
            let lookup: RegionObservation.Lookup<RAMResource>
            do {
                lookup = try await aws.sharedResourceConfiguration(region: region, arn: arn).map { .found($0) } ?? .absent
            } catch {
                lookup = .unanswered(error.code ?? error.kind.description)
            }
            logger.info("shared resource not listed; looked up by ARN", metadata: ["ram.resource": "\(arn)", "answer": "\(Self.describe(lookup))"])
            observation.record(resourceLookup: arn, lookup)
        }
    }

    /// Reads the Resource endpoints per VPC quota from Service Quotas at start and every 6 hours. A role without
    /// servicequotas:GetServiceQuota, or an account without the quota, gets AWS's default (200), said once; a
    /// reading that does not answer (throttled, unreachable) keeps the last one and is tried again next pass.
    func readQuotaIfDue(_ region: String) async {
        let time = now()
        guard capacity.quotaDue(region, now: time) else { return }
        do {
            let value = try await aws.serviceQuota(region: region, serviceCode: "vpc", quotaCode: VpcCapacity.quotaCode)
            capacity.recordQuota(Int(value.rounded(.down)), region: region, at: time)
            logger.info("VPC endpoint quota read", metadata: ["aws.region": "\(region)", "quota": "\(Int(value))"])
        } catch where error.isRefusal {
            if capacity.recordQuota(nil, region: region, at: time) {
                logger.notice("VPC endpoint quota not readable; using AWS's default", metadata: [
                    "aws.region": "\(region)", "quota": "\(VpcCapacity.defaultQuota)", "aws.error": "\(error.code ?? error.message)",
                    "fix": "allow servicequotas:GetServiceQuota (Deploy/iam-policy.json) to read a raised quota"])
            }
        } catch {
            logger.debug("VPC endpoint quota not read this pass", metadata: ["aws.region": "\(region)", "aws.error": "\(error.code ?? error.message)"])
        }
    }

    static func describe<T>(_ lookup: RegionObservation.Lookup<T>) -> String {
        switch lookup {
        case .found: "found"
        case .absent: "absent"
        case .unanswered(let reason): "unanswered (\(reason))"
        }
    }

    /// A pending invitation's resources; a failure when RAM will not list them (expired while still reading
    /// PENDING, or answered meanwhile): there is nothing to decide about it then.
    func pendingResources(_ arn: String, region: String) async throws -> Result<[RAMResource], AWSClientError> {
        do {
            return .success(try await aws.invitationResources(region: region, invitationArn: arn))
        } catch {
            guard error.isRefusal else { throw error }
            logger.debug("invitation resources unavailable", metadata: ["ram.invitation": "\(arn)", "aws.error": "\(error.code ?? error.message)"])
            return .failure(error)
        }
    }
}
