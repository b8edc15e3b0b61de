//! Just enough ELF to tell whether a binary can run in an image that holds nothing
//! else: statically linked (no program interpreter), and for which architecture.

/// The OCI architecture of an ELF executable and whether it needs a dynamic loader.
pub struct Executable {
    pub architecture: &'static str,
    /// The program interpreter (`/lib64/ld-linux-x86-64.so.2`) of a dynamic binary.
    pub interpreter: Option<String>,
}

pub fn inspect(bytes: &[u8]) -> Result<Executable, String> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF executable (a Linux binary is needed)".into());
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF executable".into());
    }
    let u16_at = |at: usize| {
        bytes
            .get(at..at.checked_add(2)?)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at.checked_add(4)?)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at.checked_add(8)?)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let truncated = || "a truncated ELF header".to_string();
    let architecture = match u16_at(18).ok_or_else(truncated)? {
        0x3e => "amd64",
        0xb7 => "arm64",
        other => {
            return Err(format!(
                "ELF machine {other:#x} is neither x86-64 nor AArch64"
            ))
        }
    };
    let phoff = u64_at(32).ok_or_else(truncated)? as usize;
    let phentsize = u16_at(54).ok_or_else(truncated)? as usize;
    let phnum = u16_at(56).ok_or_else(truncated)? as usize;
    let mut interpreter = None;
    for i in 0..phnum {
        let at = i
            .checked_mul(phentsize)
            .and_then(|x| x.checked_add(phoff))
            .ok_or_else(truncated)?;
        const PT_INTERP: u32 = 3;
        if u32_at(at).ok_or_else(truncated)? == PT_INTERP {
            let offset = u64_at(at.saturating_add(8)).ok_or_else(truncated)? as usize;
            let size = u64_at(at.saturating_add(32)).ok_or_else(truncated)? as usize;
            let end = offset.checked_add(size).ok_or_else(truncated)?;
            let path = bytes.get(offset..end).ok_or_else(truncated)?;
            interpreter = Some(
                String::from_utf8_lossy(path)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
    }
    Ok(Executable {
        architecture,
        interpreter,
    })
}
