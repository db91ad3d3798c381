import DreamClassAPI
import Settings

/// Which schools a command runs: the environment's one when no file of schools is given, else
/// the file's school named, its only one, or all of them.
public enum SchoolSelection {
    /// A file of several schools, and none named: a usage error.
    public struct Ambiguous: Error, CustomStringConvertible {
        public var file: String
        public var count: Int
        /// What else the command could be given instead of `--school`.
        public var alternative = "use --all-tenants"
        public var description: String { "\(file) has \(count) schools: name one with --school, or \(alternative)" }
    }

    /// No tenant named, by a flag, a school or the environment: a usage error.
    public struct NoTenant: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "name the tenant: --tenant, or --school with --config, or DREAMCLASS_TENANT" }
    }

    /// - Parameters:
    ///   - backfill: every school's run is followed by its backfill (else as its settings say).
    ///   - warning: called with each of the file's warnings.
    public static func select(
        configPath: String?, school: String?, allTenants: Bool, environment: [String: String], warning: (String) -> Void
    ) throws -> [SchoolSettings] {
        guard let path = configPath else {
            let api = try DreamClassConfiguration.fromEnvironment(environment)
            return [SchoolSettings(name: api.tenant, api: api)]
        }
        let file = try SettingsFile.load(path: path)
        file.warnings.forEach(warning)
        let names: [String]
        if allTenants {
            names = file.schoolNames
        } else if let school {
            names = [school]
        } else if file.schoolNames.count == 1 {
            names = file.schoolNames
        } else {
            throw Ambiguous(file: path, count: file.schoolNames.count)
        }
        return try names.map { try file.resolve(school: $0, environment: environment) }
    }

    /// The settings of a run's school, for its backfill: from the file when one is given (the
    /// school named, or the one of the run's tenant), else the built-in defaults. A file without
    /// the tenant is refused, so that a school's own limits are never replaced by the defaults.
    public static func school(
        ofRun runID: Int64, tenant: String, configPath: String?, school: String?, environment: [String: String], warning: (String) -> Void
    ) throws -> SchoolSettings {
        guard let path = configPath else {
            return SchoolSettings(name: tenant, api: DreamClassConfiguration(apiKey: "", schoolCode: "", tenant: tenant))
        }
        let file = try SettingsFile.load(path: path)
        file.warnings.forEach(warning)
        let names = school.map { [$0] } ?? file.schools(ofTenant: tenant, environment: environment)
        guard let name = names.first else { throw SchoolNotInFile(runID: runID, tenant: tenant, file: path, schools: file.schoolNames) }
        guard names.count == 1 else {
            throw SettingsError(file: path, key: "schools", message: "\(names.joined(separator: " and ")) share tenant \"\(tenant)\": name one with --school")
        }
        let settings = try file.school(name, environment: environment)
        guard settings.api.tenant == tenant else {
            throw SettingsError(file: path, key: "schools.\(name).tenant",
                                message: "is \"\(settings.api.tenant)\", but run \(runID) is of tenant \"\(tenant)\": name the run's school, or another run")
        }
        return settings
    }

    /// The tenant of a command about one tenant's store (`explain`), and its school's settings
    /// when a file is given: `tenant` when given, else the school named (or the file's only one),
    /// else `DREAMCLASS_TENANT`.
    public static func tenant(
        _ tenant: String?, configPath: String?, school: String?, environment: [String: String]
    ) throws -> (tenant: String, school: SchoolSettings?) {
        var settings: SchoolSettings?
        if let path = configPath {
            let file = try SettingsFile.load(path: path)
            if let name = school ?? (file.schoolNames.count == 1 ? file.schoolNames.first : nil) {
                settings = try file.school(name, environment: environment)
            } else if tenant == nil {
                throw Ambiguous(file: path, count: file.schoolNames.count, alternative: "give --tenant")
            }
        }
        guard let name = tenant ?? settings?.api.tenant ?? environment["DREAMCLASS_TENANT"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw NoTenant()
        }
        return (name, settings)
    }
}
