// Only where Swift Testing is: `swift build` builds every target, test-only ones too, and the release
// toolchain with --static-swift-stdlib (the install build, scripts/install.sh) has no Testing module. There
// this target compiles to nothing; the test bundle (debug, `swift test`) always has Testing.
#if canImport(Testing)
import Foundation
import Synchronization
import Testing

/// A trait for tests that block their thread: they wait for processes, sleep, read pipes to the end.
/// Each such test runs on a thread of its own, outside Swift's cooperative pool, and at most
/// ``BlockingTest/limit`` of them run at once.
///
/// Why: Swift Testing runs a synchronous test body on the cooperative pool, whose width is the core
/// count (2 on our CI machines). Two blocking tests then hold every pool thread, and each `async` test
/// in the process (the engine tests, which await events with deadlines) stops running until one of
/// them returns. We measured this: in a full run on a quiet box the median test took 30 s, most of it
/// waiting for a pool thread, and a deadline such as `waitFor(.seconds(20))` then expires in a test
/// that never ran. Moving blocking tests to their own threads leaves the pool to the tests that await.
///
/// The limit keeps the number of process-spawning tests running together where the pool kept it, so
/// the machine is not loaded more than before. A slot is awaited, never blocked on.
///
/// Apply it to a suite (it is recursive) or a test: `@Suite(.blocking) struct EndToEnd {}`.
public struct BlockingTest: TestTrait, SuiteTrait, TestScoping {
    /// How many blocking tests run at once: the core count, as the pool allowed before, and at least 2.
    public static let limit = max(2, ProcessInfo.processInfo.activeProcessorCount)

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> BlockingTest? {
        // A suite's own scope would hold a slot for all its tests: only test cases take one.
        testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        await BlockingSlots.shared.acquire()
        defer { BlockingSlots.shared.release() }
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) {
            try await function()
        }
    }
}

extension Trait where Self == BlockingTest {
    /// Runs the test (or every test of the suite) on its own thread, outside the cooperative pool.
    public static var blocking: BlockingTest { BlockingTest() }
}

/// At most `BlockingTest.limit` holders; waiters are resumed in arrival order.
final class BlockingSlots: Sendable {
    static let shared = BlockingSlots(limit: BlockingTest.limit)

    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(free: limit)) }

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { s -> Bool in
                if s.free > 0 { s.free -= 1; return true }
                s.waiters.append(c)
                return false
            }
            if granted { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.free += 1; return nil }
            return s.waiters.removeFirst()   // the slot passes straight to it
        }
        next?.resume()
    }
}

/// Runs every job on a new thread. A blocking test's body is one job that holds its thread until the
/// test returns, so a fixed set of threads could be exhausted by tests waiting for each other's
/// processes; a thread per job cannot. Jobs are few (a synchronous test is one).
final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        let thread = Thread { job.runSynchronously(on: executor) }
        thread.name = "blocking-test"
        thread.stackSize = 8 << 20
        thread.start()
    }
}
#endif
