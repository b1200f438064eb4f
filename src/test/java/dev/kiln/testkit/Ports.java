package dev.kiln.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Free TCP ports for servers the tests start. */
public final class Ports {
    private Ports() {
    }

    /**
     * A port nothing listens on right now on loopback. The socket is closed before the caller binds, so
     * another process could take it in between; the servers here bind within milliseconds.
     */
    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free port: " + e.getMessage(), e);
        }
    }

    /**
     * The first IPv4 address of this machine that is neither loopback nor link-local: where a test
     * binds a server that stands in for a remote host. Null when there is none.
     */
    public static InetAddress outsideAddress() {
        try {
            for (java.net.NetworkInterface nif : java.net.NetworkInterface.networkInterfaces().toList()) {
                if (!nif.isUp() || nif.isLoopback()) {
                    continue;
                }
                for (InetAddress a : nif.inetAddresses().toList()) {
                    if (a instanceof java.net.Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
                        return a;
                    }
                }
            }
        } catch (IOException e) {
            // none
        }
        return null;
    }

    /** Whether {@code port} can be bound right now, e.g. to restart a server on the port it had. */
    public static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket(port)) {
            socket.setReuseAddress(true);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
