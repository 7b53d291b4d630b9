package io.wgcni.api.cluster;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.Status;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Resolves {@code wgcni-endpoints:///h1:7443,h2:7443,...}: every address of every host (host names through the
 * system resolver, at each refresh), one address group each, so that the load balancer treats each replica as
 * its own backend.
 */
final class EndpointsResolver extends NameResolverProvider {
    static final String SCHEME = "wgcni-endpoints";

    private static boolean registered;

    /** Makes the scheme known to every channel (once). */
    static synchronized void register() {
        if (!registered) {
            NameResolverRegistry.getDefaultRegistry().register(new EndpointsResolver());
            registered = true;
        }
    }

    /** Parses "host:port,[v6]:port,..." into unresolved addresses; a bad entry is an IllegalArgumentException. */
    static List<InetSocketAddress> parse(String list) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String e : list.split(",")) {
            String entry = e.strip();
            int colon = entry.lastIndexOf(':');
            String host = colon > 0 ? entry.substring(0, colon) : "";
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(entry.substring(colon + 1));
            } catch (NumberFormatException | StringIndexOutOfBoundsException x) {
                port = -1;
            }
            if (host.isEmpty() || port < 1 || port > 65535) {
                throw new IllegalArgumentException("cluster endpoint '" + entry + "' is not host:port");
            }
            out.add(InetSocketAddress.createUnresolved(host, port));
        }
        return out;
    }

    @Override
    public NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
        if (!SCHEME.equals(targetUri.getScheme())) {
            return null;
        }
        List<InetSocketAddress> endpoints = parse(targetUri.getPath().substring(1));
        return new NameResolver() {
            private Listener2 listener;

            @Override
            public String getServiceAuthority() {
                return ClusterClient.SERVER_NAME;
            }

            @Override
            public void start(Listener2 listener) {
                this.listener = listener;
                resolve();
            }

            @Override
            public void refresh() {
                resolve();
            }

            private void resolve() {
                List<EquivalentAddressGroup> groups = new ArrayList<>();
                List<String> failed = new ArrayList<>();
                for (InetSocketAddress e : endpoints) {
                    try {
                        for (InetAddress a : InetAddress.getAllByName(e.getHostString())) {
                            groups.add(new EquivalentAddressGroup(
                                    (SocketAddress) new InetSocketAddress(a, e.getPort())));
                        }
                    } catch (UnknownHostException x) {
                        failed.add(e.getHostString());
                    }
                }
                if (groups.isEmpty()) {
                    listener.onError(Status.UNAVAILABLE.withDescription("no cluster endpoint resolves: " + failed));
                    return;
                }
                listener.onResult(ResolutionResult.newBuilder().setAddressesOrError(
                        io.grpc.StatusOr.fromValue(List.copyOf(groups))).build());
            }

            @Override
            public void shutdown() {}
        };
    }

    @Override
    public String getDefaultScheme() {
        return SCHEME;
    }

    @Override
    protected boolean isAvailable() {
        return true;
    }

    @Override
    protected int priority() {
        return 4;   // below DNS's 5: a target without a scheme stays DNS's
    }

    @Override
    public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
        return List.of(InetSocketAddress.class);
    }
}
