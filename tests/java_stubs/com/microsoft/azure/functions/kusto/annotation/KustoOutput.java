// Compile-only stand-in for azure-functions-java-library-kusto 1.0.13-Preview (tests/java_stubs/README.md).
package com.microsoft.azure.functions.kusto.annotation;

import com.microsoft.azure.functions.annotation.CustomBinding;
import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.PARAMETER, ElementType.METHOD})
@CustomBinding(direction = "out", name = "", type = "Kusto")
public @interface KustoOutput {
    String database();
    String tableName();
    String mappingRef() default "";
    String dataFormat() default "";
    String connection();
    String name();
    String managedServiceIdentity() default "";
    String ingestionTyoe() default "managed";
    String ingestionProperties() default "@flushImmediately=false,@pollIntervalSeconds=15,@pollTimeoutMinutes=5";
}
