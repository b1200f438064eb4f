package dev.kiln.builder.dockerfile;

import java.util.Optional;

/**
 * Dockerfile flags Kiln parses but will not carry out, and combinations BuildKit refuses before it
 * builds anything. A build that uses one stops before any step with a line that names it, instead
 * of building something other than what BuildKit builds.
 */
final class Unsupported {

    private Unsupported() {
    }

    /** Why Kiln cannot build {@code instruction}, if it cannot. */
    static Optional<String> reason(Instruction instruction) {
        if (instruction instanceof Instruction.Add add) {
            if (add.checksum() != null && !add.checksum().isEmpty() && add.sources().size() + add.inlineSources().size() != 1) {
                return Optional.of("checksum can't be specified for multiple sources");
            }
        } else if (instruction instanceof Instruction.Run run && run.security().equals("insecure")) {
            return Optional.of("RUN --security=insecure needs the security.insecure entitlement, which Kiln never grants");
        }
        return Optional.empty();
    }
}
