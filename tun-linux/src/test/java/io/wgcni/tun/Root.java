package io.wgcni.tun;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/** What the tests need from the machine: root, /dev/net/tun and iproute2. */
public final class Root {
    private Root() {
    }

    public static void assumeTunAvailable() {
        assumeTrue("root".equals(System.getProperty("user.name")),
                "these tests create TUN devices and network namespaces: they need root (user is "
                        + System.getProperty("user.name") + ")");
        assumeTrue(Files.exists(Path.of(LinuxTun.DEV_NET_TUN)), LinuxTun.DEV_NET_TUN + " is missing");
        assumeTrue(Files.isExecutable(Path.of(Links.ipCommand())) || Links.ipCommand().equals("ip"),
                "iproute2's ip is missing");
    }

    /** Skips, saying which is missing, unless every command is on the PATH (.ci/run installs them). */
    public static void assumeCommands(String... commands) {
        for (String c : commands) {
            boolean found = java.util.Arrays.stream(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
                    .anyMatch(dir -> Files.isExecutable(Path.of(dir, c)));
            assumeTrue(found, c + " is not installed: apt-get install --no-install-recommends wireguard-go"
                    + " wireguard-tools iputils-ping");
        }
    }

    /** A fresh name: wgtun-xxxxxx for namespaces, wgt-xxxxxx for links (both within IFNAMSIZ). */
    public static String unique(String prefix) {
        return prefix + Long.toString(ThreadLocalRandom.current().nextLong(1L << 30, 1L << 35), 36);
    }
}
