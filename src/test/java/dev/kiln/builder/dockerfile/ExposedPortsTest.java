package dev.kiln.builder.dockerfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class ExposedPortsTest {
    @Test
    void aRangeIsOneKeyPerPortAndTheProtocolLowerCaseAsBuildKitWritesThem() {
        assertEquals(List.of("80/tcp"), ExposedPorts.keys("80"));
        assertEquals(List.of("53/udp"), ExposedPorts.keys("53/UDP"));
        assertEquals(List.of("8080/tcp", "8081/tcp", "8082/tcp"), ExposedPorts.keys("8080-8082"));
        assertEquals(List.of("9000/udp", "9001/udp"), ExposedPorts.keys("9000-9001/udp"));
        assertThrows(DockerfileException.class, () -> ExposedPorts.keys("9001-9000"));
    }
}
