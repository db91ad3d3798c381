import Backfill
import DreamClassAPI
import EventStore
import FileOutput
import Postgres
import ReconcileJob
import Settings
import Signing

/// The one map from what went wrong to a code of ``ExitStatus``'s table: every command and every
/// school of a fleet ends through it, so cron, systemd and the worst-code rule read one contract.
public enum ExitCodes {
    /// The code of `error`: ``ExitStatus/error`` for an error this product does not classify.
    /// - Parameter stop: the signal that stopped the work, when one did.
    public static func code(for error: any Error, stop: Stop? = nil) -> Int32 {
        classified(error, stop: stop) ?? ExitStatus.error
    }

    /// The code of an error this product classifies; `nil` for the others.
    public static func classified(_ error: any Error, stop: Stop? = nil) -> Int32? {
        switch error {
        case let error as ReconcileError:
            switch error {
            case .locked: return ExitStatus.tryAgain
            case .fresh: return ExitStatus.ok
            case .interrupted: return stop?.exitCode ?? ExitStatus.interrupted
            }
        case is CancellationError:
            return stop?.exitCode ?? ExitStatus.interrupted
        case is RunLockLost:
            return ExitStatus.tryAgain
        case let error as DreamClassError:
            switch error {
            case .denied: return ExitStatus.configuration
            // A wrong path or base URL, or a certificate that does not verify (status 0): a setting.
            case .status(let status, _, _) where status == 404 || status == 0: return ExitStatus.configuration
            case .status(let status, _, _) where status >= 500: return ExitStatus.tryAgain
            case .status, .malformedResponse: return ExitStatus.error
            case .retriesExhausted, .inconsistentRead, .throttled, .deadlinePassed: return ExitStatus.tryAgain
            }
        case let error as PostgresError:
            return code(for: error)
        case let error as MigrationError:
            switch error {
            case .failed(_, let cause): return code(for: cause, stop: stop)
            case .busy: return ExitStatus.tryAgain
            case .checksumMismatch, .unknownVersion, .notUpToDate: return ExitStatus.configuration
            }
        case let error as BackfillError:
            switch error {
            case .noSuchRun, .runNotFinished: return ExitStatus.usage
            }
        case is ExplainJob.UnknownEnrollment, is ExplainStore.Lookup, is SchoolSelection.Ambiguous, is SchoolSelection.NoTenant, is IngestRun.UnreadableInput:
            return ExitStatus.usage
        case is ConfigurationError, is SettingsError, is SchoolNotInFile, is WebhookSignatureError:
            return ExitStatus.configuration
        case let error as IngestError:
            return code(for: error.underlying, stop: stop)
        case is PostgresDecodingError, is OutputError:
            return ExitStatus.error
        default:
            return nil
        }
    }

    private static func code(for error: PostgresError) -> Int32 {
        let state = error.sqlState ?? ""
        // Credentials, a database or schema that does not exist: a setting, not the night.
        if state.hasPrefix("28") || state == "3D000" || state == "3F000" { return ExitStatus.configuration }
        if error.kind == .connection, state.isEmpty,
           ["authentication failed", "does not exist", "no password supplied", "invalid"].contains(where: error.message.contains) {
            return ExitStatus.configuration
        }
        // Unreachable, restarting, out of room or connections, a lock or the deadline: later.
        if error.isTimeout || error.isConnectionFailure || state.hasPrefix("53") || state.hasPrefix("57P") || state == "40001" || state == "40P01" {
            return ExitStatus.tryAgain
        }
        return ExitStatus.error
    }
}
