import NIOCore
import Synchronization

/// The metrics listener's open connections, oldest first, and the choice of which one makes room for a
/// newcomer when the cap is reached. Shared by every event loop that accepts or serves a connection.
final class MetricsConnections: Sendable {
    /// Where a connection is in its life, as the cap's choice of a victim needs it.
    enum Phase: Equatable, Sendable {
        /// Opened, or reading a request, and never completed one: the first to go.
        case new
        /// Completed a request before; reading or answering another.
        case busy
        /// Kept alive between requests: the second to go.
        case idle
    }

    struct Entry: Sendable {
        let id: Int
        let channel: any Channel
        var phase: Phase
    }

    /// What `admit` decided.
    struct Admission: Sendable {
        /// The newcomer's id, for `update` and `remove`; nil when it was refused.
        var id: Int?
        /// The connection to close to make room.
        var evicted: (any Channel)?
    }

    let limit: Int
    private let state = Mutex<(nextId: Int, entries: [Entry])>((0, []))
    /// Told the number of open connections after each change (under the lock, so in order).
    private let counted: @Sendable (Int) -> Void

    init(limit: Int, counted: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.limit = limit
        self.counted = counted
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Registers a new connection, choosing a victim when the cap is reached: the oldest connection that
    /// never completed a request, else the oldest idle one; when every connection is answering a request,
    /// the newcomer is refused.
    func admit(_ channel: any Channel) -> Admission {
        state.withLock { state in
            var evicted: (any Channel)?
            if state.entries.count >= limit {
                guard let victim = Self.victim(in: state.entries) else { return Admission(id: nil, evicted: nil) }
                evicted = state.entries.remove(at: victim).channel
            }
            let id = state.nextId
            state.nextId += 1
            state.entries.append(Entry(id: id, channel: channel, phase: .new))
            counted(state.entries.count)
            return Admission(id: id, evicted: evicted)
        }
    }

    /// Which of `entries` (oldest first) to close to make room; nil when none may be.
    static func victim(in entries: [Entry]) -> Int? {
        entries.firstIndex { $0.phase == .new } ?? entries.firstIndex { $0.phase == .idle }
    }

    /// A connection moved on in its life (a request completed, it went idle, a new request began).
    func update(_ id: Int, to phase: Phase) {
        state.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.id == id }) else { return }
            // A connection that completed a request never counts as new again.
            state.entries[index].phase = (phase == .new && state.entries[index].phase != .new) ? .busy : phase
        }
    }

    /// A connection closed.
    func remove(_ id: Int) {
        state.withLock { state in
            let before = state.entries.count
            state.entries.removeAll { $0.id == id }
            if state.entries.count != before { counted(state.entries.count) }
        }
    }
}
