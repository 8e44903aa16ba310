import FlowhoundCore
import Synchronization

/// SIGHUP as a counter: the handler only increments it (lock-free, so async-signal-safe); file sinks compare it
/// with the value they last saw and reopen their file before the next write (logrotate's `postrotate` sends
/// SIGHUP after moving the file away). `reopenRequested()` does the same without a signal, for a command that
/// handles SIGHUP itself (e.g. to reload rules) and wants the files reopened too.
package enum HangupSignal {
    private static let counter = Atomic<Int>(0)

    /// Changes on every SIGHUP (or `reopenRequested()`).
    package static var generation: Int { counter.load(ordering: .acquiring) }

    package static func reopenRequested() { counter.add(1, ordering: .releasing) }

    /// Installs the SIGHUP handler (idempotent).
    package static func install() {
        _ = generation  // initialise the global before the handler can touch it
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in HangupSignal.counter.add(1, ordering: .releasing) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
        // a parent may have started us with SIGHUP blocked (signal masks survive exec)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
