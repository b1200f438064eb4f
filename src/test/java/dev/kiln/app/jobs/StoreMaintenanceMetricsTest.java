package dev.kiln.app.jobs;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.app.http.WipeTestStore;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** A scheduled garbage collection run shows on /q/metrics, where an alert on GC that stopped running looks. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class StoreMaintenanceMetricsTest {
    @Inject
    StoreMaintenance maintenance;

    @Test
    void aGarbageCollectionRunIsCountedAndTimed() throws Exception {
        Map<String, Double> before = samples();
        maintenance.collectGarbage();
        Map<String, Double> after = samples();
        assertEquals(1.0, after.get("kiln_store_gc_runs_total") - before.get("kiln_store_gc_runs_total"), after.toString());
        assertEquals(1.0, after.get("kiln_store_gc_duration_seconds_count") - before.get("kiln_store_gc_duration_seconds_count"),
                after.toString());
        assertEquals(0.0, after.get("kiln_store_gc_freed_bytes_total") - before.get("kiln_store_gc_freed_bytes_total"),
                "a fresh store has nothing to free past the grace period");
    }

    private static Map<String, Double> samples() {
        Map<String, Double> samples = new TreeMap<>();
        for (String line : given().get("/q/metrics").then().statusCode(200).extract().asString().split("\n")) {
            if (line.startsWith("kiln_store_gc")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return samples;
    }
}
