package io.wgcni.node.attach;

import static io.wgcni.node.attach.AttachmentsIT.attach;
import static io.wgcni.node.attach.TestNode.exec;
import static io.wgcni.node.attach.TestNode.ping;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.tun.Root;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A container that sends with a forged source address, as fast as it can, through its tunnel: every such packet is
 * dropped at wg0 (its allowed IPs hold only the container's own addresses) and counted, and a flow between two
 * other containers on the node keeps its rate.
 */
class HostileContainerIT {
    /** The legitimate flow's rate: a fixed rate it must keep, not the machine's maximum, which the flood shares. */
    private static final String RATE = "200M";
    private static final int SECONDS = 4;

    @Test
    void forgedSourcesAreDroppedAndCountedAndOthersKeepTheirRate() throws Exception {
        Root.assumeTunAvailable();
        try (TestNode node = new TestNode()) {
            node.startHub();
            String a = node.container("a");
            String b = node.container("b");
            String x = node.container("x");
            try (Attachments attachments = node.attachments()) {
                attachments.attach(attach("a", a, "eth0"));
                attachments.attach(attach("b", b, "eth0"));
                attachments.attach(attach("x", x, "eth0"));
                ping(a, "10.100.3.3");
                ping(x, "10.100.3.1");
                // x claims an address that is not its own (b's neighbour), and sends from it.
                exec(x, "ip", "address", "add", "10.100.3.200/32", "dev", "eth0");

                double quiet = udpFlow(a, b, "10.100.3.3");
                long droppedBefore = node.hub.counters().get("disallowed_source");
                Process flood = new ProcessBuilder("ip", "netns", "exec", x, "python3", "-c", """
                        import socket, time
                        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        s.bind(("10.100.3.200", 0))
                        data = b"x" * 1200
                        end = time.time() + %d
                        n = 0
                        while time.time() < end:
                            for _ in range(1000):
                                try:
                                    s.sendto(data, ("10.100.3.3", 9))
                                    n += 1
                                except OSError:
                                    pass
                        print(n)
                        """.formatted(SECONDS + 2)).redirectErrorStream(true).start();
                try {
                    Thread.sleep(500);
                    double flooded = udpFlow(a, b, "10.100.3.3");
                    String sent = new String(flood.getInputStream().readAllBytes()).strip();
                    flood.waitFor();
                    long dropped = node.hub.counters().get("disallowed_source") - droppedBefore;
                    System.out.printf("forged-source flood from a container: %s datagrams sent, %d dropped at wg0"
                            + " (disallowed_source); a flow of %s between two others: %.0f Mbit/s quiet, %.0f Mbit/s"
                            + " during the flood (%.2fx)%n", sent, dropped, RATE, quiet, flooded, flooded / quiet);
                    assertTrue(dropped > 10_000, "the flood reached wg0 and was dropped there: " + dropped);
                    assertTrue(flooded >= 0.8 * quiet, "the others' flow keeps its rate within 20%: " + flooded
                            + " against " + quiet);
                } finally {
                    flood.destroyForcibly();
                }
                ping(a, "10.100.3.3"); // and the node is still fine
            }
        }
    }

    /** Received Mbit/s of a UDP flow at {@link #RATE} from namespace {@code from} to {@code address} in {@code to}. */
    private static double udpFlow(String from, String to, String address) throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", to, "iperf3", "-s", "-1", "-B", address)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Thread.sleep(300);
            String json = exec(from, "iperf3", "-c", address, "-u", "-b", RATE, "-l", "1200", "-t",
                    Integer.toString(SECONDS), "-J");
            Matcher m = Pattern.compile("\"sum\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.e+]+)[^}]*?"
                    + "\"lost_percent\"\\s*:\\s*([0-9.e+-]+)").matcher(json.substring(json.indexOf("\"end\"")));
            if (!m.find()) {
                throw new IllegalStateException("no end sum in iperf3's output: " + json);
            }
            double bps = Double.parseDouble(m.group(1));
            double lost = Double.parseDouble(m.group(2));
            return bps * (1 - lost / 100) / 1e6;
        } finally {
            server.destroy();
        }
    }
}
