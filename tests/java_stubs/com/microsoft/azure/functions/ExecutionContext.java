// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions;

import java.util.logging.Logger;

public interface ExecutionContext {
    Logger getLogger();
    String getInvocationId();
    String getFunctionName();
}
