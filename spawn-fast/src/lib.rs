//! Fast process spawning (being built).
