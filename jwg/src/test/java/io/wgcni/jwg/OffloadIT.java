package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.jwg.WireGuard.Impl;
import io.wgcni.tun.Root;
import io.wgcni.tun.TcpTransfer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The offloads end to end, between two jwg processes in two namespaces: one with every offload the kernel takes
 * (TSO/USO on its TUN, GSO and GRO on its socket), the other with all of them switched off by the documented
 * environment variables. A gigabyte crosses each way, inside IPv4 and inside IPv6, and must arrive byte for byte
 * (SHA-256): superpackets are cut on one side and never coalesced on the other, and the other way round. The
 * kernel's TCP carries timestamps and SACK on every segment (Linux's defaults), so the cut must keep options.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class OffloadIT {
    private static final long GIGABYTE = 1L << 30;
    static final Map<String, String> NO_OFFLOADS =
            Map.of("WG_DISABLE_TUN_OFFLOAD", "1", "WG_DISABLE_UDP_GSO", "1", "WG_DISABLE_UDP_GRO", "1");

    @TempDir
    Path dir;

    @BeforeEach
    void requirements() {
        Root.assumeTunAvailable();
        Root.assumeCommands("wg", "ping");
    }

    @ParameterizedTest(name = "inner IPv{0}")
    @ValueSource(ints = {4, 6})
    void aGigabyteEachWayWithOffloadsOnOneSideOnly(int version) throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard on = new WireGuard(net, Impl.JWG, true, dir).start();
            WireGuard off = new WireGuard(net, Impl.JWG, false, dir).start(NO_OFFLOADS);
            on.connect(off, true, null, 0, false);
            off.connect(on, false, null, 0, false);
            on.ping(off.inner4);
            assertTrue(log(on).contains("offloads: tun tso"), "offloads on: " + log(on));
            assertTrue(log(off).contains("offloads: none"), "offloads off: " + log(off));

            for (WireGuard[] way : new WireGuard[][] {{on, off}, {off, on}}) {
                String to = version == 4 ? way[1].inner4 : way[1].inner6;
                TcpTransfer.Result r = TcpTransfer.run(way[0].ns, way[1].ns, to, GIGABYTE);
                assertEquals(r.sent(), r.received(), "1 GiB arrives intact from " + way[0].iface);
                System.out.printf("offloads %s -> %s, inner IPv%d: %.0f Mbit/s%n",
                        way[0] == on ? "on" : "off", way[1] == on ? "on" : "off", version, r.megabitsPerSecond());
            }
            for (WireGuard w : new WireGuard[] {on, off}) {
                String transfer = w.wg("show", w.iface, "transfer");
                long rx = Long.parseLong(transfer.strip().split("\t")[1]);
                assertTrue(rx > GIGABYTE, w.iface + " counted what it received: " + transfer);
            }
        }
    }

    private String log(WireGuard w) throws Exception {
        return Files.readString(dir.resolve(w.iface + ".log"));
    }
}
