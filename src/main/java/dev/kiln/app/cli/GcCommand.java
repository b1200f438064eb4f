package dev.kiln.app.cli;

import dev.kiln.app.config.Durations;
import dev.kiln.store.GarbageCollector;
import dev.kiln.store.HeldLock;
import dev.kiln.store.Store;
import dev.kiln.store.StoreLock;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gc", mixinStandardHelpOptions = true, versionProvider = KilnVersion.class,
        description = "Remove blobs that no manifest references and upload sessions that expired. Safe while the gateway runs.")
public class GcCommand implements Callable<Integer> {
    @Mixin
    StoreOption store;

    @Option(names = "--grace", defaultValue = "1h", description = "Keep unreferenced blobs younger than this (default ${DEFAULT-VALUE})")
    String grace;

    @Option(names = "--upload-ttl", defaultValue = "24h", description = "Remove upload sessions idle for longer (default ${DEFAULT-VALUE})")
    String uploadTtl;

    @Override
    public Integer call() throws Exception {
        Store opened = store.open();
        StoreLock lock = opened.locks().named("gc");
        String holder = "kiln-gc-" + ProcessHandle.current().pid() + "@" + java.net.InetAddress.getLocalHost().getHostName();
        Optional<HeldLock> held = HeldLock.take(lock, holder, Duration.ofMinutes(1), Clock.systemUTC());
        if (held.isEmpty()) {
            System.err.println("kiln gc: another collection holds " + lock.describe() + "; try again later");
            return 1;
        }
        GarbageCollector.Report report;
        try (HeldLock h = held.get()) {
            report = new GarbageCollector(opened, Durations.parse(grace), Clock.systemUTC()).run(Durations.parse(uploadTtl), h);
        }
        System.out.printf("removed %d blobs (%d bytes), kept %d; removed %d dangling links and %d expired uploads%n",
                report.blobsRemoved(), report.bytesRemoved(), report.blobsKept(), report.linksRemoved(), report.uploadsExpired());
        return 0;
    }
}
