package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel rekeys with jwg while traffic flows: the guest initiates, then the namespace pings it every 200 ms for
 * 140 s, past REKEY_AFTER_TIME (120 s), when the kernel (the initiator, sending the replies) makes a new session.
 * A few packets may be lost at the switch; no more.
 */
@Tag("long")
@Timeout(value = 420, unit = TimeUnit.SECONDS)
class KernelRekeyIT {
    @TempDir
    Path dir;

    @Test
    void kernelRekeysAfterTwoMinutesWithoutAStall() throws Exception {
        KernelVm.assumeAvailable();
        try (KernelVm vm = new KernelVm(dir)) {
            KernelVm.Jwg jwg = vm.new Jwg().start();
            KernelVm.Guest guest = vm.new Guest();
            guest.configure(jwg, KernelVm.HOST4 + ":" + jwg.port, null);
            jwg.configure(guest, null, null);
            guest.ping(KernelVm.INNER_HOST4);
            long first = guest.latestHandshake();
            assertTrue(first > 0, guest.wg("show wg0"));
            String out = vm.in("ping", "-q", "-i", "0.2", "-c", "700", "-W", "1", KernelVm.INNER_GUEST4);
            Matcher m = Pattern.compile("(\\d+) packets transmitted, (\\d+) received").matcher(out);
            assertTrue(m.find(), out);
            int lost = Integer.parseInt(m.group(1)) - Integer.parseInt(m.group(2));
            long second = guest.latestHandshake();
            System.out.println("KernelRekeyIT: kernel -> jwg over a rekey: " + lost + " of 700 pings lost;"
                + " handshakes at " + first + " and " + second + "\n" + out);
            assertTrue(lost <= 3, "lost " + lost + " pings over the rekey: " + out);
            assertTrue(second > first, "the kernel made a new handshake: " + guest.wg("show wg0"));
            jwg.stop();
        }
    }
}
