package dev.kiln.store.s3;

import dev.kiln.store.LockRecord;
import dev.kiln.store.StoreLock;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * A store lock as the object {@code locks/<name>}: taken by a PUT with {@code If-None-Match: *},
 * renewed or taken over (once expired) by a PUT with {@code If-Match} on the version read, so two
 * replicas racing for it cannot both win. Needs an endpoint with conditional writes (S3 since 2024,
 * MinIO, moto 5).
 */
final class S3StoreLock implements StoreLock {
    private final S3Objects objects;
    private final String key;
    private final Clock clock;

    S3StoreLock(S3Objects objects, String name, Clock clock) {
        this.objects = objects;
        this.key = "locks/" + name;
        this.clock = clock;
    }

    @Override
    public boolean acquire(String holder, Duration ttl) throws IOException {
        Optional<S3Objects.Versioned> current = objects.getVersioned(key);
        LockRecord record = current.map(v -> LockRecord.parse(v.bytes())).orElse(null);
        if (!LockRecord.free(record, holder, clock.instant())) {
            return false;
        }
        byte[] mine = new LockRecord(holder, clock.instant().plus(ttl)).toBytes();
        return objects.putIf(key, mine, current.map(S3Objects.Versioned::etag).orElse(null));
    }

    @Override
    public void release(String holder) throws IOException {
        Optional<S3Objects.Versioned> current = objects.getVersioned(key);
        if (current.isPresent()) {
            LockRecord record = LockRecord.parse(current.get().bytes());
            if (record != null && record.holder().equals(holder)) {
                objects.deleteIf(key, current.get().etag());
            }
        }
    }

    @Override
    public String describe() {
        return "the object " + key + " of the bucket " + objects.bucket();
    }
}
