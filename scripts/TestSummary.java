import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The end of every `./wgcni test`: tests run, failed and skipped over every module's surefire and failsafe
 * reports, the skipped ones grouped by reason (io.wgcni.wg.Skip puts the reason in brackets at the head of the
 * message), and the modules that have tests but left no report (the build stopped before them). With --strict
 * (.ci/run), any skip whose reason is not "platform" fails: CI is root and installs scripts/packages.txt.
 *
 *   java scripts/TestSummary.java [--strict] [--excluded-groups TAGS] REPO_ROOT
 *
 * Exit status: 0; 1 when a test failed, or when --strict finds a skip CI must not have; 2 on unreadable reports.
 */
public class TestSummary {
    /** The only reason a CI run may skip for: a kernel or CPU feature the machine lacks (Skip.Reason.PLATFORM). */
    static final String ALLOWED_IN_CI = "platform";
    /** Skip's "[reason] message", wherever JUnit's "Assumption failed: " and the exception's name put it. */
    static final Pattern REASON = Pattern.compile("\\[([a-z ]+)\\] (.*)");
    /** What the summary calls a class that reported no test at all: surefire drops the tests of a class whose
     *  @BeforeAll aborted, and its reason with them. */
    static final String NO_TESTS = "no tests reported";

    record Case(String module, String className, String name, String outcome, String message) {}

    public static void main(String[] args) throws Exception {
        boolean strict = false;
        String excluded = "";
        Path root = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--strict" -> strict = true;
                case "--excluded-groups" -> excluded = args[++i];
                default -> root = Path.of(args[i]);
            }
        }
        if (root == null) {
            System.err.println("usage: java scripts/TestSummary.java [--strict] [--excluded-groups TAGS] REPO_ROOT");
            System.exit(2);
        }
        List<Case> cases = new ArrayList<>();
        List<String> unreported = new ArrayList<>();
        for (String module : modules(root)) {
            Path dir = root.resolve(module);
            if (!Files.isDirectory(dir.resolve("src/test"))) {
                continue;
            }
            int before = cases.size();
            for (String kind : List.of("surefire-reports", "failsafe-reports")) {
                Path reports = dir.resolve("target").resolve(kind);
                if (Files.isDirectory(reports)) {
                    try (Stream<Path> files = Files.list(reports)) {
                        for (Path f : files.filter(TestSummary::isReport).sorted().toList()) {
                            read(module, f, cases);
                        }
                    }
                }
            }
            if (cases.size() == before) {
                unreported.add(module);
            }
        }
        System.exit(print(cases, unreported, excluded, strict));
    }

    static boolean isReport(Path f) {
        String n = f.getFileName().toString();
        return n.startsWith("TEST-") && n.endsWith(".xml");
    }

    /** The root pom's modules, in build order. */
    static List<String> modules(Path root) throws IOException {
        List<String> modules = new ArrayList<>();
        Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(Files.readString(root.resolve("pom.xml")));
        while (m.find()) {
            modules.add(m.group(1).trim());
        }
        return modules;
    }

    static void read(String module, Path report, List<Case> into) throws Exception {
        var factory = DocumentBuilderFactory.newInstance();
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Element suite = factory.newDocumentBuilder().parse(report.toFile()).getDocumentElement();
        NodeList testcases = suite.getElementsByTagName("testcase");
        if (testcases.getLength() == 0) {
            into.add(new Case(module, simple(suite.getAttribute("name")), "", "skipped", "[" + NO_TESTS + "] the "
                    + "class ran no test: a skip or failure in @BeforeAll (surefire drops the reason), "
                    + "or none selected"));
        }
        for (int i = 0; i < testcases.getLength(); i++) {
            Element tc = (Element) testcases.item(i);
            String outcome = "passed";
            String message = "";
            for (String kind : List.of("failure", "error", "skipped")) {
                NodeList found = tc.getElementsByTagName(kind);
                if (found.getLength() > 0) {
                    outcome = kind;
                    Element e = (Element) found.item(0);
                    message = e.getAttribute("message").isBlank() ? e.getTextContent() : e.getAttribute("message");
                    break;
                }
            }
            into.add(new Case(module, simple(tc.getAttribute("classname")), tc.getAttribute("name"), outcome,
                    message));
        }
    }

    static String simple(String className) {
        return className.substring(className.lastIndexOf('.') + 1);
    }

    static int print(List<Case> cases, List<String> unreported, String excluded, boolean strict) {
        long failed = cases.stream().filter(c -> c.outcome.equals("failure")).count();
        long errors = cases.stream().filter(c -> c.outcome.equals("error")).count();
        List<Case> skipped = cases.stream().filter(c -> c.outcome.equals("skipped")).toList();
        System.out.println();
        System.out.println("== wgcni test summary ==");
        long empty = skipped.stream().filter(c -> c.name.isEmpty() && c.message.startsWith("[" + NO_TESTS)).count();
        long tests = cases.size() - empty;
        System.out.printf("%d tests: %d passed, %d failed, %d errors, %d skipped%s%n", tests,
                tests - failed - errors - (skipped.size() - empty), failed, errors, skipped.size() - empty,
                empty == 0 ? "" : "; " + empty + " classes reported no test");
        if (!excluded.isBlank()) {
            System.out.println("not run: the tests tagged " + excluded + " (excluded by this command)");
        }
        if (!unreported.isEmpty()) {
            System.out.println("no reports from " + String.join(", ", unreported)
                    + " (the build stopped before their tests, or they were not selected)");
        }
        for (Case c : cases) {
            if (c.outcome.equals("failure") || c.outcome.equals("error")) {
                System.out.println(c.outcome + ": " + c.module + " " + c.className + "." + c.name + ": "
                        + firstLine(c.message));
            }
        }
        // reason -> message -> class -> count
        Map<String, Map<String, Map<String, Integer>>> byReason = new TreeMap<>();
        for (Case c : skipped) {
            Matcher m = REASON.matcher(firstLine(c.message));
            boolean tagged = m.find();
            String reason = tagged ? m.group(1) : "no reason given";
            String message = tagged ? m.group(2) : c.message.isBlank() ? "(no message)" : c.message;
            byReason.computeIfAbsent(reason, r -> new TreeMap<>())
                    .computeIfAbsent(firstLine(message), x -> new TreeMap<>())
                    .merge(c.className, 1, Integer::sum);
        }
        if (!byReason.isEmpty()) {
            System.out.println("skipped, by reason:");
        }
        int mustRun = 0;
        for (var reason : byReason.entrySet()) {
            int count = reason.getValue().values().stream()
                    .mapToInt(classes -> classes.values().stream().mapToInt(Integer::intValue).sum()).sum();
            System.out.println("  " + reason.getKey() + " (" + count + ")");
            for (var message : reason.getValue().entrySet()) {
                StringBuilder classes = new StringBuilder();
                message.getValue().forEach((cls, n) -> classes.append(classes.isEmpty() ? "" : ", ").append(cls)
                        .append(n > 1 ? " x" + n : ""));
                System.out.println("    " + message.getKey() + "  [" + classes + "]");
            }
            if (!reason.getKey().equals(ALLOWED_IN_CI)) {
                mustRun += count;
            }
        }
        if (mustRun > 0) {
            System.out.println(strict
                    ? "strict: " + mustRun
                            + " skipped tests must run here (CI is root and installs scripts/packages.txt): FAILED"
                    : "as root with every package (sudo ./wgcni test installs them), " + mustRun
                            + " of the skipped tests would run");
        }
        // Failures count even when Maven was told to ignore them (-Dmaven.test.failure.ignore=true).
        return failed + errors > 0 || strict && mustRun > 0 ? 1 : 0;
    }

    static String firstLine(String s) {
        String line = s.strip();
        int nl = line.indexOf('\n');
        return nl < 0 ? line : line.substring(0, nl);
    }
}
