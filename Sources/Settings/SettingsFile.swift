import DreamClassAPI
import Foundation
import ReconcileJob
import Reconciliation
import Yams

/// The configuration file of many schools (YAML): defaults, then one section per school.
///
/// ```yaml
/// defaults:
///   base_url: https://api.dreamclass.io/dreamclassapi/v1
///   settle: 15m
///   report_dir: /var/lib/dreamclass-reconcile/reports
/// schools:
///   my-school:
///     school_code: ABC123
///     api_key_file: /etc/dreamclass-reconcile/my-school.key
///     scope: current
/// ```
///
/// A school's setting wins over `defaults`; the environment wins over the file, and flags over
/// both. Secrets are never read from the file: a key that holds one is ignored with a warning.
public struct SettingsFile: Sendable {
    public let path: String
    /// Things worth a look that do not stop a run (a secret in the file, say).
    public private(set) var warnings: [String] = []
    private var defaults: [String: Setting] = [:]
    private var schools: [(name: String, values: [String: Setting])] = []

    /// The names of the schools, in file order.
    public var schoolNames: [String] { schools.map(\.name) }

    struct Setting: Sendable {
        enum Value: Sendable { case text(String), number(Double), flag(Bool), list([Int]) }
        var value: Value
        var line: Int
    }

    /// Keys a section may have, and what each takes.
    static let keys: [String: String] = [
        "base_url": "text", "school_code": "text", "tenant": "text", "api_key_file": "text",
        "scope": "text", "periods": "list", "settle": "text", "backfill": "flag", "max_deletes": "text",
        "deliver": "text", "deliver_user": "text", "deliver_password_file": "text", "webhook_secret_file": "text",
        "report_dir": "text", "concurrency": "number", "max_rps": "number",
        "timeout": "number", "page_size": "number", "path_periods": "text", "path_period_students": "text",
        "path_student": "text",
    ]
    static let secretKeys: Set<String> = ["api_key", "webhook_secret", "deliver_password", "password", "secret"]

    public static func load(path: String) throws(SettingsError) -> SettingsFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError(file: path, message: "cannot be read")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(SettingsError) -> SettingsFile {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SettingsError(file: path, message: "is empty") }
            root = node
        } catch let error as SettingsError {
            throw error
        } catch let error as YamlError {
            throw SettingsError(file: path, message: "is not valid YAML: \(error)")
        } catch {
            throw SettingsError(file: path, message: "is not valid YAML: \(error)")
        }
        guard let top = root.mapping else { throw SettingsError(file: path, line: line(root), message: "must be a mapping with defaults and schools") }
        var file = SettingsFile(path: path)
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "defaults":
                file.defaults = try file.section(value, prefix: "defaults")
            case "schools":
                guard let mapping = value.mapping else { throw SettingsError(file: path, key: "schools", line: line(value), message: "must map school names to settings") }
                for (nameNode, section) in mapping {
                    let name = nameNode.string ?? ""
                    file.schools.append((name, try file.section(section, prefix: "schools.\(name)")))
                }
            default:
                throw SettingsError(file: path, key: key, line: line(keyNode), message: "is not a setting (expected defaults or schools)")
            }
        }
        guard !file.schools.isEmpty else { throw SettingsError(file: path, key: "schools", message: "names no school") }
        return file
    }

    private mutating func section(_ node: Node, prefix: String) throws(SettingsError) -> [String: Setting] {
        guard let mapping = node.mapping else { throw SettingsError(file: path, key: prefix, line: Self.line(node), message: "must be a mapping") }
        var values: [String: Setting] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let name = "\(prefix).\(key)"
            let line = Self.line(keyNode) ?? 0
            if Self.secretKeys.contains(key) {
                warnings.append("\(path):\(line): \(name) holds a secret, which is ignored here: use the environment or a *_file setting")
                continue
            }
            guard let kind = Self.keys[key] else {
                throw SettingsError(file: path, key: name, line: line, message: "is not a setting; known: \(Self.keys.keys.sorted().joined(separator: ", "))")
            }
            switch (kind, value) {
            case ("list", .sequence(let items)):
                let numbers = items.compactMap { $0.int }
                guard numbers.count == items.count else { throw SettingsError(file: path, key: name, line: line, message: "must be a list of period ids") }
                values[key] = Setting(value: .list(numbers), line: line)
            case ("number", .scalar):
                guard let number = value.float else { throw SettingsError(file: path, key: name, line: line, message: "must be a number") }
                values[key] = Setting(value: .number(number), line: line)
            case ("flag", .scalar):
                guard let flag = value.bool else { throw SettingsError(file: path, key: name, line: line, message: "must be true or false") }
                values[key] = Setting(value: .flag(flag), line: line)
            case ("text", .scalar(let scalar)):
                values[key] = Setting(value: .text(scalar.string), line: line)
            default:
                throw SettingsError(file: path, key: name, line: line, message: "must be a \(kind == "list" ? "list" : kind == "flag" ? "true or false" : kind)")
            }
        }
        return values
    }

    private static func line(_ node: Node) -> Int? { node.mark.map { $0.line } }

    /// One school's settings: the file's defaults, its section, then `environment` over them.
    public func resolve(school name: String, environment: [String: String]) throws(SettingsError) -> SchoolSettings {
        guard let section = schools.first(where: { $0.name == name })?.values else {
            throw SettingsError(file: path, key: "schools.\(name)", message: "no such school; the file has \(schoolNames.joined(separator: ", "))")
        }
        let merged = defaults.merging(section) { $1 }
        func text(_ key: String) -> String? { if case .text(let value)? = merged[key]?.value { return value }; return nil }
        func number(_ key: String) -> Double? { if case .number(let value)? = merged[key]?.value { return value }; return nil }
        func place(_ key: String) -> String { (section[key] != nil ? "schools.\(name)." : "defaults.") + key }

        var api = DreamClassConfiguration(
            baseURL: text("base_url") ?? DreamClassConfiguration.defaultBaseURL, apiKey: "",
            schoolCode: text("school_code") ?? "", tenant: text("tenant") ?? name
        )
        if let file = text("api_key_file") {
            do { api.apiKey = try DreamClassConfiguration.readSecret(file: file, setting: place("api_key_file")) } catch {
                throw SettingsError(file: path, key: place("api_key_file"), line: merged["api_key_file"]?.line, message: "\(error)")
            }
        }
        if let value = text("path_periods") { api.paths.periods = value }
        if let value = text("path_period_students") { api.paths.periodStudents = value }
        if let value = text("path_student") { api.paths.student = value }
        if let value = number("concurrency") { api.concurrency = max(1, Int(value)) }
        if let value = number("max_rps") { api.requestsPerSecond = value }
        if let value = number("timeout") { api.timeout = .milliseconds(Int(value * 1000)) }
        if let value = number("page_size") { api.pageSize = Int(value) }
        do { try api.apply(environment: environment) } catch {
            throw SettingsError(file: "environment", message: "\(error)")
        }

        var settings = SchoolSettings(name: name, api: api)
        if case .list(let ids)? = merged["periods"]?.value { settings.scope = .periods(ids) }
        switch text("scope") {
        case nil, "all"?: break
        case "current"?: settings.scope = .current
        case let other?:
            throw SettingsError(file: path, key: place("scope"), line: merged["scope"]?.line, message: "takes all or current (or use periods: [...]), not \"\(other)\"")
        }
        if let value = text("settle") {
            guard let duration = parseDuration(value) else {
                throw SettingsError(file: path, key: place("settle"), line: merged["settle"]?.line, message: "takes 0, 90s, 15m or 2h, not \"\(value)\"")
            }
            settings.settle = duration
        }
        if case .flag(let flag)? = merged["backfill"]?.value { settings.backfill = flag }
        if let value = text("max_deletes") { settings.maxDeletes = value }
        settings.deliverURL = text("deliver")
        settings.deliverUser = text("deliver_user")
        settings.deliverPasswordFile = text("deliver_password_file")
        settings.webhookSecretFile = text("webhook_secret_file")
        if let value = text("report_dir") { settings.reportDirectory = value }
        return settings
    }
}
