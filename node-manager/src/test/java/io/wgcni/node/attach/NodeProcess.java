package io.wgcni.node.attach;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Device;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A node-manager stand-in for {@link RestartIT}, run in a child JVM inside the node's namespace: wg0 (a hub like
 * the daemon's, same key and port on every start) and the attachments, restored from the data directory and then
 * attached (idempotently) as listed. Prints {@code READY <wg0 port> <restored> <reconcile ms>}, then waits: "remove"
 * on stdin detaches everything and exits, "keep" (or end of input) exits leaving the containers' interfaces.
 *
 * <p>Arguments: data directory, wg0's name, wg0's private key (base64), wg0's port (0: any), then
 * {@code containerId=netnsPath} for each container to attach as eth0.
 */
public final class NodeProcess {
    private NodeProcess() {
    }

    public static void main(String[] args) throws Exception {
        Device hub = TestNode.startHub(null, args[1], Key.fromBase64(args[2]), Integer.parseInt(args[3]));
        Attachments attachments = new Attachments(Path.of(args[0]), TestNode.NETWORK, hub);
        long start = System.nanoTime();
        int restored = attachments.reconcile();
        long reconcileMillis = (System.nanoTime() - start) / 1_000_000;
        for (int i = 4; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            attachments.attach(new Attachments.Attach(pair[0], "eth0", pair[1], 0, "", false));
        }
        System.out.println("READY " + hub.listenPort() + " " + restored + " " + reconcileMillis);
        System.out.flush();
        String command = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        attachments.close("remove".equals(command));
        hub.close();
        System.exit(0);
    }
}
