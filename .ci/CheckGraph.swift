// Keeps the module graph one-way, from the edges to the core. Reads the output of
// `swift package describe --type json` on stdin; prints every breach and exits 1 when there is one.
// Run by `.ci/check-graph` (and so by `.ci/run`); see the README's "Layout".
import Foundation

struct Package: Decodable {
    struct Target: Decodable {
        var name: String
        var type: String
        var path: String
        var sources: [String]
        var target_dependencies: [String]?
        var product_dependencies: [String]?
        var dependencies: [String] { (target_dependencies ?? []) + (product_dependencies ?? []) }
    }
    var targets: [Target]
}

/// What each stage of the core may depend on, and nothing else.
let allowed: [String: Set<String>] = [
    "Models": [],
    "Reconciliation": ["Models"],
    "Reports": ["Models", "Reconciliation", "FileOutput"],
    "Signing": ["Models", "Crypto"],
    "FileOutput": [],
]
/// Modules that do I/O, and the libraries under them: none may be reachable from the core.
let inputOutput: Set<String> = [
    "CLibPQ", "Postgres", "PostgresServer", "EventStore", "DreamClassAPI", "DreamClassSimulator", "Receiver", "HTTPServing",
    "Monitoring", "ReconcileJob", "Backfill", "Settings", "AsyncHTTPClient", "Hummingbird", "HummingbirdCore", "NIOCore",
    "NIOPosix", "NIOSSL", "NIOHTTP1",
]
/// Jobs orchestrate; only the command-line tools and tests sit above them.
let jobs: Set<String> = ["ReconcileJob", "Backfill"]
/// Where SQL may be written.
let sqlModules: Set<String> = ["EventStore", "Postgres"]
/// Modules of the toolchain, importable without a declared dependency.
let toolchain: Set<String> = ["Foundation", "FoundationEssentials", "Glibc", "Musl", "Darwin", "Dispatch", "Synchronization", "Testing", "XCTest", "PackagePlugin"]

let package = try JSONDecoder().decode(Package.self, from: FileHandle.standardInput.readDataToEndOfFile())
let byName = Dictionary(uniqueKeysWithValues: package.targets.map { ($0.name, $0) })
var breaches: [String] = []

func closure(of name: String) -> Set<String> {
    var seen: Set<String> = []
    var stack = byName[name]?.dependencies ?? []
    while let next = stack.popLast() {
        guard seen.insert(next).inserted else { continue }
        stack += byName[next]?.dependencies ?? []
    }
    return seen
}

for (name, permitted) in allowed.sorted(by: { $0.key < $1.key }) {
    guard let target = byName[name] else { breaches.append("\(name): the target is missing"); continue }
    for dependency in target.dependencies where !permitted.contains(dependency) {
        breaches.append("\(name) depends on \(dependency); it may depend on \(permitted.sorted().joined(separator: ", ")) only")
    }
    for reached in closure(of: name).intersection(inputOutput).sorted() {
        breaches.append("\(name) reaches \(reached), which does I/O")
    }
}
for target in package.targets where target.type == "library" && !jobs.contains(target.name) {
    for dependency in target.dependencies where jobs.contains(dependency) {
        breaches.append("\(target.name) depends on the job \(dependency): a job is wired by the command line, never depended on")
    }
}

let sqlPattern = try NSRegularExpression(pattern: #"\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|COPY\s|VACUUM|CREATE\s+(TEMPORARY\s+)?TABLE)"#)
for target in package.targets where target.type != "plugin" && target.type != "system-target" {
    let declared = Set(target.dependencies)
    for source in target.sources where source.hasSuffix(".swift") {
        let path = target.path + "/" + source
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(separator: " ")
            if let index = words.firstIndex(of: "import"), index <= 1, index + 1 < words.count,
                words.prefix(index).allSatisfy({ $0.hasPrefix("@") })
            {
                let module = String(words[index + 1])
                if module != target.name, !declared.contains(module), !toolchain.contains(module) {
                    breaches.append("\(path):\(number + 1): imports \(module), which \(target.name) does not declare in Package.swift")
                }
            }
            if target.type != "test", !sqlModules.contains(target.name), target.path.hasPrefix("Sources/") {
                let text = String(line)
                if sqlPattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil {
                    breaches.append("\(path):\(number + 1): SQL outside the event store")
                }
            }
        }
    }
}

if breaches.isEmpty {
    print("module graph: one-way (\(package.targets.count) targets checked)")
} else {
    for breach in breaches { print("module graph: \(breach)") }
    exit(1)
}
