package dev.kiln.app.kubernetes;

import dev.kiln.store.StoreLock;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * A {@code coordination.k8s.io/v1} Lease as a {@link StoreLock}, the way Kubernetes' own controllers
 * elect a leader: the holder identity is the pod's name; taking, renewing and taking over an expired
 * Lease are updates carrying the resourceVersion that was read, so of two replicas racing only one
 * update is accepted (the other gets 409 Conflict and does not hold it).
 */
public final class LeaseLock implements StoreLock {
    private final KubernetesClient client;
    private final String namespace;
    private final String name;
    private final Clock clock;

    public LeaseLock(KubernetesClient client, String namespace, String name, Clock clock) {
        this.client = client;
        this.namespace = namespace;
        this.name = name;
        this.clock = clock;
    }

    @Override
    public boolean acquire(String holder, Duration ttl) {
        ZonedDateTime now = ZonedDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
        int seconds = (int) Math.max(1, ttl.toSeconds());
        try {
            Lease lease = client.resources(Lease.class).inNamespace(namespace).withName(name).get();
            if (lease == null) {
                Lease fresh = new Lease();
                fresh.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(namespace).build());
                fresh.setSpec(spec(holder, seconds, now, now, 0));
                client.resources(Lease.class).inNamespace(namespace).resource(fresh).create();
                return true;
            }
            LeaseSpec current = lease.getSpec() == null ? new LeaseSpec() : lease.getSpec();
            boolean mine = holder.equals(current.getHolderIdentity());
            if (!mine && !expired(current, now)) {
                return false;
            }
            int transitions = current.getLeaseTransitions() == null ? 0 : current.getLeaseTransitions();
            lease.setSpec(spec(holder, seconds, mine && current.getAcquireTime() != null ? current.getAcquireTime() : now, now,
                    mine ? transitions : transitions + 1));
            client.resources(Lease.class).inNamespace(namespace).resource(lease).update();
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                return false; // another replica wrote the Lease since it was read
            }
            throw e;
        }
    }

    private static boolean expired(LeaseSpec spec, ZonedDateTime now) {
        if (spec.getHolderIdentity() == null || spec.getHolderIdentity().isEmpty() || spec.getRenewTime() == null) {
            return true;
        }
        int seconds = spec.getLeaseDurationSeconds() == null ? 0 : spec.getLeaseDurationSeconds();
        return !spec.getRenewTime().plusSeconds(seconds).isAfter(now);
    }

    private static LeaseSpec spec(String holder, int seconds, ZonedDateTime acquired, ZonedDateTime renewed, int transitions) {
        LeaseSpec spec = new LeaseSpec();
        spec.setHolderIdentity(holder);
        spec.setLeaseDurationSeconds(seconds);
        spec.setAcquireTime(acquired);
        spec.setRenewTime(renewed);
        spec.setLeaseTransitions(transitions);
        return spec;
    }

    /** Empties the holder, as client-go's leader election does on release, so the next taker need not wait for expiry. */
    @Override
    public void release(String holder) {
        try {
            Lease lease = client.resources(Lease.class).inNamespace(namespace).withName(name).get();
            if (lease != null && lease.getSpec() != null && holder.equals(lease.getSpec().getHolderIdentity())) {
                lease.getSpec().setHolderIdentity(null);
                lease.getSpec().setRenewTime(null);
                client.resources(Lease.class).inNamespace(namespace).resource(lease).update();
            }
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409 && e.getCode() != 404) {
                throw e;
            }
        }
    }

    @Override
    public String describe() {
        return "the Lease " + namespace + "/" + name;
    }
}
