import ArgumentParser
import BuildInfo
import FileOutput
import FleetJob

/// Finds and repairs the DreamClass webhooks a school's systems missed.
@main
struct DreamClassReconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dreamclass-reconcile",
        abstract: "Find and repair the DreamClass student-period webhooks a school's systems missed.",
        discussion: """
            serve stores DreamClass's STUDENT_PERIOD webhooks in PostgreSQL; run folds them into what the \
            school's systems believe, reads the truth from the DreamClass REST API, records the drift as a \
            run and a CSV report; backfill writes back and delivers the events that were lost. A first day: \
            migrate, config check, serve, run, then cron or the systemd timer.

            EXIT STATUS: 0 finished (with or without drift); 2 drift found, with --detailed-exitcode; 3 the \
            backfill's guard held deletes (review, then --allow-mass-delete); 64 usage, or a run or enrollment \
            id that does not exist; 65 ingest lines rejected (the rest stored); 75 try again later (another run holds the \
            school, the deadline passed, DreamClass throttled or failed, a period unread, PostgreSQL \
            unreachable or a lock held elsewhere); 78 a setting to fix (401/403, an unreadable secret, a bad \
            schools file, a school not in it, suspect mass creates); 1 anything else; 130 and 143 stopped by \
            SIGINT and SIGTERM. Several schools: the worst, in the order 143, 130, 1, 78, 64, 65, 75, 3, 2, 0.

            ENVIRONMENT: DATABASE_URL (or libpq's PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, \
            PGCONNECT_TIMEOUT, PGPASSFILE); DREAMCLASS_CONFIG, the schools file; DREAMCLASS_SCHEMA; \
            DREAMCLASS_BASE_URL, DREAMCLASS_API_KEY (or _FILE), DREAMCLASS_SCHOOL_CODE, DREAMCLASS_TENANT for \
            one school without a file; DREAMCLASS_WEBHOOK_SECRET, DREAMCLASS_DELIVER_PASSWORD, \
            DREAMCLASS_WEBHOOK_PASSWORD (each or its _FILE); DREAMCLASS_PAGE_SIZE, DREAMCLASS_CONCURRENCY, \
            DREAMCLASS_MAX_RPS, DREAMCLASS_TIMEOUT, DREAMCLASS_MAX_ATTEMPTS, DREAMCLASS_READ_ATTEMPTS, \
            DREAMCLASS_MAX_RETRY_AFTER, DREAMCLASS_CA_BUNDLE, DREAMCLASS_PATH_*, DREAMCLASS_HEADER_*; LOG_LEVEL \
            and LOG_FORMAT. A flag wins over the environment, the environment over the school's section of the \
            file, that over its defaults.

            FILES: /etc/dreamclass-reconcile/schools.yaml (the schools: defaults, then one section per school), \
            /etc/dreamclass-reconcile/env (the nightly job's environment), /var/lib/dreamclass-reconcile/reports \
            (reports, mode 0600), /lib/systemd/system/dreamclass-reconcile.{service,timer} and \
            dreamclass-reconcile-serve.service, /usr/bin/dreamclass-reconcile-nightly (the wrapper cron and the \
            timer run).

            EXAMPLES: dreamclass-reconcile migrate --database postgresql://dreamclass@localhost/school; \
            dreamclass-reconcile config check --config /etc/dreamclass-reconcile/schools.yaml; \
            dreamclass-reconcile serve --port 8080 --health-port 8081 --config /etc/dreamclass-reconcile/schools.yaml; \
            dreamclass-reconcile run --config /etc/dreamclass-reconcile/schools.yaml --school north --backfill; \
            dreamclass-reconcile runs --tenant north; dreamclass-reconcile report --run 42 --format json; \
            dreamclass-reconcile explain 5012 --tenant north; \
            dreamclass-reconcile backfill --run 42 --dry-run; dreamclass-reconcile demo.
            """,
        version: BuildInfo.line,
        subcommands: [DemoCommand.self, MigrateCommand.self, IngestCommand.self, RunCommand.self, BackfillCommand.self, ReportCommand.self, RunsCommand.self, ExplainCommand.self, PruneCommand.self, ConfigCommand.self, ServeCommand.self]
    )

    /// ArgumentParser's own `main`, after making a closed pipe an error of the write that meets
    /// it (EPIPE, reported, exit 1) instead of a signal that ends the process without a word.
    static func main() async {
        StandardStream.ignoreBrokenPipeSignal()
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch where ExitCodes.classified(error) != nil {
            // The product's errors end by the exit-code contract, the error as the last line.
            ExitCodes.exit(with: error)
        } catch {
            exit(withError: error)
        }
    }
}
