package io.wgcni.node;

import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * How {@code node-manager run} was asked to run (flags and WGCNI_* environment variables).
 *
 * @param endpoint  "host:port" other nodes reach this one at; null: the default route's interface address
 * @param mtu       wg0's MTU; 0: the underlay's minus {@link #WIREGUARD_OVERHEAD}
 * @param metrics   where to serve /metrics; null: not at all
 * @param dataPath  how packets cross the node: the container hop sealed or not, forwarding in wg0 or the kernel
 */
record NodeConfig(String cluster, String joinToken, String nodeName, Path dataDir, String interfaceName,
        int listenPort, String endpoint, int mtu, Path socket, Path cniSocket, InetSocketAddress metrics,
        boolean keepTunnelsOnExit, NodeInterface.DataPath dataPath) {

    /** What WireGuard adds to a packet over IPv6: IPv6 40 + UDP 8 + WireGuard header 16 + tag 16. */
    static final int WIREGUARD_OVERHEAD = 80;
}
