package io.wgcni.wg;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The one way a test here skips: with a reason from a fixed list and a message that says what to do. The reason
 * leads the message in brackets ("[missing package] wg is not installed: ..."), and scripts/TestSummary.java,
 * run by {@code ./wgcni test} after every run, groups the skipped tests by it. Under {@code .ci/run}
 * (WGCNI_TEST_STRICT=1) every reason but {@link Reason#PLATFORM} fails the run: CI is root and installs every
 * package in scripts/packages.txt, so such a skip there means a broken install step.
 */
public final class Skip {
    private Skip() {
    }

    public enum Reason {
        /** The test creates namespaces, TUN devices or firewall rules. */
        NOT_ROOT("not root"),
        /** A command or file from a Debian package in scripts/packages.txt is absent. */
        MISSING_PACKAGE("missing package"),
        /** A device the test opens is absent (/dev/net/tun, /dev/kvm). */
        NO_DEVICE("no device"),
        /** What the test runs has not been packaged in this tree (bin/..., target/*.jar). */
        NOT_BUILT("not built"),
        /** Something the test must create already exists on this host (a running local cluster). */
        HOST_IN_USE("host in use"),
        /** A kernel or CPU feature this machine lacks; the only reason CI accepts. */
        PLATFORM("platform");

        public final String tag;

        Reason(String tag) {
            this.tag = tag;
        }
    }

    /** Skips the test with {@code message} under {@code reason} unless {@code condition} holds. */
    public static void unless(boolean condition, Reason reason, String message) {
        Assumptions.assumeTrue(condition, () -> "[" + reason.tag + "] " + message);
    }

    /** Skips unless the test runs as root; {@code why} says what it does that needs root. */
    public static void unlessRoot(String why) {
        String user = System.getProperty("user.name");
        unless("root".equals(user), Reason.NOT_ROOT, why + ": run as root (user is " + user + ")");
    }

    /**
     * Skips unless every command is on the PATH (or in /usr/sbin, /sbin); {@code packages} are the Debian
     * packages that provide them, for the message.
     */
    public static void unlessCommands(String packages, String... commands) {
        for (String c : commands) {
            unless(onPath(c) != null, Reason.MISSING_PACKAGE,
                    c + " is not installed: apt-get install --no-install-recommends " + packages);
        }
    }

    /** Skips unless {@code file} exists, under {@code reason}. */
    public static void unlessExists(Path file, Reason reason, String message) {
        unless(Files.exists(file), reason, message);
    }

    /** The command's path on the PATH (then /usr/sbin, /sbin), or null. */
    public static Path onPath(String command) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return Path.of(dir, command);
            }
        }
        return null;
    }
}
