import ConsumerStore
import Foundation
import Logging

/// Reads the resource configurations of customers whose share is accepted and checks them: at once for
/// one never checked (its acceptance), and again every `checks.resourceConfigurationHours`, a few per
/// pass. A configuration that cannot be read gives `unknown` verdicts; nothing here holds onboarding back.
struct ResourceConfigurationCheckRunner: Sendable {
    let store: any StateStore
    let aws: any ReconcilerAWS
    let config: ConsumerConfig
    let now: @Sendable () -> Date
    let logger: Logger
    let failures: FailureLog
    let progress: ProgressMark

    /// `customers`: the pass's view of every customer (any region); read in place, never copied whole.
    func run(region: String, customers: some Collection<Customer>) async {
        let shared = ResourceConfigurationChecks.sharedStates
        let inRegion = { (customer: Customer) in customer.region == region && customer.id != nil }
        let interval = Double(config.checks.resourceConfigurationHours) * 3600
        let time = now()
        let schedule: CheckSchedule
        do {
            // Only the ids of checked customers, and the times of the few that are due: a steady pass reads no dates.
            schedule = try await store.checkSchedule(dueBefore: time.addingTimeInterval(-interval), orAfter: time.addingTimeInterval(60))
            // Verdicts describe a configuration shared with us: once the share is gone they go too, and a
            // share accepted again is read again in the pass that accepts it.
            for customer in customers where inRegion(customer) && !shared.contains(customer.state) && schedule.checked.contains(customer.id!) {
                try await store.clearChecks(customerId: customer.id!)
            }
        } catch {
            failures.report("checks \(region)", error, metadata: ["aws.region": "\(region)"])
            return
        }
        // The candidates (shared with us) counted, and only the few never checked or due kept.
        var candidates = 0
        var never: [Customer] = [], due: [(Customer, Date)] = []
        for customer in customers where inRegion(customer) && shared.contains(customer.state) {
            candidates += 1
            if !schedule.checked.contains(customer.id!) { never.append(customer) }
            if let at = schedule.due[customer.id!] { due.append((customer, at)) }
        }
        guard candidates > 0 else { return }
        never.sort { $0.stateChangedAt < $1.stateChangedAt }
        due.sort { $0.1 < $1.1 }
        let budget = ResourceConfigurationChecks.budget(checkedCustomers: candidates, passInterval: config.pollIntervalSeconds,
                                                        interval: interval, cap: 20)
        let chosen = Array(never.prefix(200) + due.prefix(budget).map(\.0))
        guard !chosen.isEmpty else { return }
        // A few calls in flight (each is a round trip to VPC Lattice), the verdicts written in one transaction.
        let aws = self.aws
        var readings: [(customer: Customer, results: [CheckResult])] = []
        await withTaskGroup(of: (Customer, ResourceConfigurationChecks.Lookup).self) { group in
            var next = 0
            func launch() {
                guard next < chosen.count else { return }
                let customer = chosen[next]
                next += 1
                group.addTask { (customer, await aws.resourceConfiguration(region: region, arn: customer.resourceConfigurationArn)) }
            }
            for _ in 0..<min(8, chosen.count) { launch() }
            while let (customer, lookup) = await group.next() {
                if case .failed(let reason) = lookup {
                    // No answer: the stored verdicts stay, and the next pass asks again.
                    logger.debug("resource configuration not read", metadata: ["customer": "\(customer.name)", "reason": "\(reason)"])
                } else {
                    readings.append((customer, ResourceConfigurationChecks.evaluate(lookup, port: customer.port)))
                }
                progress.mark()
                if !Task.isCancelled { launch() }
            }
        }
        do {
            let changed = try await store.recordChecks(readings.map { ($0.customer.id!, $0.results) })
            for (customerId, result) in changed {
                logger.notice("resource configuration check", metadata: [
                    "customer": "\(readings.first { $0.customer.id == customerId }?.customer.name ?? "-")", "check": "\(result.check)",
                    "verdict": "\(result.verdict.rawValue)", "detail": "\(result.detail)"])
            }
        } catch {
            failures.report("checks \(region)", error, metadata: ["aws.region": "\(region)"])
        }
    }
}
