import DreamClassAPI
import Settings

/// Which schools a command runs: the environment's one when no file of schools is given, else
/// the file's school named, its only one, or all of them.
public enum SchoolSelection {
    public struct Ambiguous: Error, CustomStringConvertible {
        public var file: String
        public var count: Int
        public var description: String { "\(file) has \(count) schools: name one with --school, or use --all-tenants" }
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
}
