package io.wgcni.tun;

import io.wgcni.wg.Skip;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/** What the tests need from the machine: root, /dev/net/tun and iproute2. */
public final class Root {
    private Root() {
    }

    public static void assumeTunAvailable() {
        Skip.unlessRoot("these tests create TUN devices and network namespaces");
        Skip.unlessExists(Path.of(LinuxTun.DEV_NET_TUN), Skip.Reason.NO_DEVICE, LinuxTun.DEV_NET_TUN + " is missing");
        Skip.unlessCommands("iproute2", "ip");
    }

    /** Skips, saying which is missing, unless every command is on the PATH (.ci/run installs them). */
    public static void assumeCommands(String... commands) {
        Skip.unlessCommands("wireguard-go wireguard-tools iputils-ping", commands);
    }

    /** A fresh name: wgtun-xxxxxx for namespaces, wgt-xxxxxx for links (both within IFNAMSIZ). */
    public static String unique(String prefix) {
        return prefix + Long.toString(ThreadLocalRandom.current().nextLong(1L << 30, 1L << 35), 36);
    }
}
