package dev.kiln.registry.peers;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Peer URLs in one canonical spelling ({@code http://host:port}, no path), since every replica must
 * hash the same strings, and recognising which of them is this process.
 */
public final class PeerUrls {
    private PeerUrls() {
    }

    /** {@code http://host:port}; a URL without a port gets {@code defaultPort}. Throws on anything else. */
    public static String canonical(String url, int defaultPort) {
        String text = url.strip();
        if (!text.contains("://")) {
            text = "http://" + text;
        }
        URI uri;
        try {
            uri = URI.create(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("peer " + url + " is not a URL such as http://kiln-1:5000", e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null
                || uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().equals("/") || uri.getQuery() != null) {
            throw new IllegalArgumentException("peer " + url + " is not a URL such as http://kiln-1:5000");
        }
        int port = uri.getPort() > 0 ? uri.getPort() : defaultPort;
        return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + ":" + port;
    }

    /** Recognises this process among peer URLs: its port, on one of its own addresses (or its pod IP). */
    public static final class Self {
        private final int port;
        private final Set<InetAddress> addresses;

        public Self(int port, Set<InetAddress> addresses) {
            this.port = port;
            this.addresses = Set.copyOf(addresses);
        }

        /** This machine's interface addresses, plus {@code podIp} when set. */
        public static Self of(int port, String podIp) {
            Set<InetAddress> own = new HashSet<>();
            try {
                for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    own.addAll(Collections.list(nic.getInetAddresses()));
                }
            } catch (SocketException e) {
                // without interface addresses only the pod IP and an explicit self URL recognise us
            }
            if (podIp != null && !podIp.isBlank()) {
                try {
                    own.add(InetAddress.getByName(podIp.strip()));
                } catch (UnknownHostException ignored) {
                    // not an address: nothing to recognise
                }
            }
            return new Self(port, own);
        }

        public boolean is(String canonicalUrl) {
            URI uri = URI.create(canonicalUrl);
            if (uri.getPort() != port) {
                return false;
            }
            try {
                for (InetAddress address : InetAddress.getAllByName(uri.getHost())) {
                    if (addresses.contains(address)) {
                        return true;
                    }
                }
            } catch (UnknownHostException e) {
                return false;
            }
            return false;
        }
    }
}
