#![no_std]
// This file exists so that the package has a library target cargo can check on the host.
