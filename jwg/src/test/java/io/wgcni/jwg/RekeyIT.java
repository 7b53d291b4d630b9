package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.jwg.WireGuard.Impl;
import io.wgcni.tun.Root;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A real rekey with traffic flowing: pings every 100 ms for 140 s, past REKEY_AFTER_TIME (120 s), when the
 * initiator makes a new session. A few packets may be lost at the switch; no more.
 */
@Tag("long")
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class RekeyIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        Root.assumeTunAvailable();
        Root.assumeCommands("wg", "wireguard-go", "ping");
    }

    // The two pairs share nothing (their own namespaces, interfaces, files) and mostly wait: run them side by side.
    @Execution(ExecutionMode.CONCURRENT)
    @ParameterizedTest(name = "{0} initiates to {1}")
    @CsvSource({"JWG, JWG", "JWG, WIREGUARD_GO"})
    void rekeyAfterTwoMinutesLosesAtMostAFewPackets(Impl initiatorImpl, Impl responderImpl) throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard initiator = new WireGuard(net, initiatorImpl, true, dir).start();
            WireGuard responder = new WireGuard(net, responderImpl, false, dir).start();
            initiator.connect(responder, true, null, 0, false);
            responder.connect(initiator, false, null, 0, false);
            initiator.ping(responder.inner4);
            String first = initiator.wg("show", initiator.iface, "latest-handshakes");
            String out = net.in(initiator.ns, "ping", "-q", "-i", "0.1", "-c", "1400", "-W", "1", responder.inner4);
            Matcher m = Pattern.compile("(\\d+) packets transmitted, (\\d+) received").matcher(out);
            assertTrue(m.find(), out);
            int lost = Integer.parseInt(m.group(1)) - Integer.parseInt(m.group(2));
            System.out.println(initiatorImpl + " -> " + responderImpl + " over a rekey: " + lost + " of 1400 lost");
            assertTrue(lost <= 3, "lost " + lost + " packets over the rekey: " + out);
            assertNotEquals(first, initiator.wg("show", initiator.iface, "latest-handshakes"),
                    "a new handshake happened");
        }
    }
}
