package io.wgcni.node;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * External clients (a laptop with {@code wg-quick}) that dial into the mesh through this node: each has a name,
 * addresses from the node's subnet and, once registered, a public key that becomes a peer of wg0 with the
 * client's addresses as allowed IPs. Kept in {@code clients} in the data directory (one line per client: name,
 * addresses, key), so a restarted node-manager puts the peers back.
 */
final class Clients {
    private static final Logger log = LoggerFactory.getLogger(Clients.class);
    static final String FILE = "clients";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    /** One client; {@code publicKey} is null until it registers. */
    record Client(String name, List<String> addresses, Key publicKey) {}

    private final Path file;
    private final Device wg0;
    private final Map<String, Client> clients = new TreeMap<>();

    private Clients(Path file, Device wg0) {
        this.file = file;
        this.wg0 = wg0;
    }

    /** Loads the clients and gives every registered one its peer on wg0. */
    static Clients load(Path dataDir, Device wg0) throws IOException {
        Clients c = new Clients(dataDir.resolve(FILE), wg0);
        if (Files.exists(c.file)) {
            for (String line : Files.readAllLines(c.file, StandardCharsets.UTF_8)) {
                String[] f = line.strip().split(" ");
                if (f.length < 2 || f[0].isEmpty()) {
                    continue;
                }
                Key key = f.length > 2 ? Key.fromBase64(f[2]) : null;
                Client client = new Client(f[0], List.of(f[1].split(",")), key);
                c.clients.put(client.name(), client);
                if (key != null) {
                    c.addPeer(client);
                }
            }
        }
        return c;
    }

    static String checkName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("client_name must be 1-63 letters, digits, '.', '_' or '-', got \""
                    + name + "\"");
        }
        return name;
    }

    synchronized Client get(String name) {
        return clients.get(name);
    }

    synchronized List<Client> all() {
        return List.copyOf(clients.values());
    }

    /** Records the addresses allocated to a client (idempotent). */
    synchronized void allocated(String name, List<String> addresses) throws IOException {
        Client prev = clients.get(name);
        if (prev != null && prev.addresses().equals(addresses)) {
            return;
        }
        clients.put(name, new Client(name, List.copyOf(addresses), prev == null ? null : prev.publicKey()));
        save();
    }

    /**
     * Gives the client (which must have addresses) the public key {@code key}: a peer of wg0 with its addresses.
     * A key held by another peer of wg0 (a node, a container, another client) is refused.
     */
    synchronized Client register(String name, Key key) throws IOException {
        Client prev = clients.get(name);
        if (prev == null) {
            throw new IllegalStateException("client " + name + " has no address: call AllocateAddress first");
        }
        if (key.equals(prev.publicKey())) {
            return prev;
        }
        if (wg0.peer(key) != null || key.equals(wg0.identity().publicKey())) {
            throw new IllegalArgumentException("public_key is already used by another peer of this node");
        }
        Client next = new Client(name, prev.addresses(), key);
        if (prev.publicKey() != null) {
            wg0.removePeer(prev.publicKey());
        }
        addPeer(next);
        clients.put(name, next);
        save();
        log.info("Client {}: registered {} with {}", name, key.shortForm(), next.addresses());
        return next;
    }

    private void addPeer(Client c) {
        Peer peer = wg0.addPeer(c.publicKey());
        for (String a : c.addresses()) {
            // The client's own addresses as hosts: /32 and /128 however the interface's prefix length was written.
            Prefix host = Prefix.parse(a.substring(0, a.indexOf('/') < 0 ? a.length() : a.indexOf('/')));
            wg0.addAllowedIp(peer, host);
        }
    }

    private void save() throws IOException {
        List<String> lines = new ArrayList<>();
        for (Client c : clients.values()) {
            lines.add(c.name() + " " + String.join(",", c.addresses())
                    + (c.publicKey() == null ? "" : " " + c.publicKey().toBase64()));
        }
        NodeKey.writeSecret(file, (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }
}
