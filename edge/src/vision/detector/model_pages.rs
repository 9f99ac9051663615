//! Hands back the memory of a model file's pages once the runtime has packed its own copy of the
//! weights: LiteRT maps the whole file and reads it while it compiles the model, then XNNPACK runs
//! from the packed copy, so the file's pages (6.4 MB for the default model) would otherwise stay
//! in the edge's resident memory for nothing. The file stays mapped: a page read again comes back
//! from the file.
// madvise on this process's own mappings, found in its maps.
#![allow(unsafe_code)]

use std::path::Path;

/// The read-only mappings of `file` in a `/proc/PID/maps` text: (start, length) of each.
fn read_only_mappings(maps: &str, file: &Path) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path (the path may hold spaces).
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3)?.trim_start();
            if Path::new(path) != file || !perms.starts_with('r') || perms.contains('w') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some((start, end - start))
        })
        .collect()
}

/// Drops this process's resident pages of `file`'s read-only mappings; returns how many bytes
/// those mappings span (0 when the file is not mapped, or where that cannot be read).
pub fn release(file: &Path) -> usize {
    let Ok(file) = file.canonicalize() else {
        return 0;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    read_only_mappings(&maps, &file)
        .into_iter()
        .filter(|&(start, len)| {
            // SAFETY: the range is a whole mapping of this process, read from its maps just now,
            // and mapped without write permission: nothing in it differs from the file, so
            // dropping its pages loses nothing (a later read faults them in from the file again).
            unsafe {
                rustix::mm::madvise(start as *mut _, len, rustix::mm::Advice::LinuxDontNeed).is_ok()
            }
        })
        .map(|(_, len)| len)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_files_read_only_mappings() {
        let maps = "\
7fc8b1c00000-7fc8b226a000 r--s 00000000 fe:00 5308847                    /m/model int8.tflite
7fc8b2300000-7fc8b2301000 rw-p 00000000 fe:00 5308847                    /m/model int8.tflite
7fc8b2400000-7fc8b2500000 r--p 00000000 fe:00 5308848                    /m/other.tflite
7fc8b2600000-7fc8b2700000 r-xp 00001000 fe:00 5308847                    /m/model int8.tflite
7fc8b2800000-7fc8b2900000 rw-p 00000000 00:00 0 
";
        let found = read_only_mappings(maps, Path::new("/m/model int8.tflite"));
        assert_eq!(
            found,
            vec![(0x7fc8b1c00000, 0x66a000), (0x7fc8b2600000, 0x100000)]
        );
        assert!(read_only_mappings(maps, Path::new("/m/none.tflite")).is_empty());
        assert!(read_only_mappings("garbage\n\n1-2 r--p", Path::new("/m/x")).is_empty());
    }

    #[test]
    fn a_mapped_file_s_pages_leave_resident_memory_and_read_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.tflite");
        let bytes: Vec<u8> = (0..4 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        // SAFETY: a fresh private read-only mapping of a file nobody writes while it lives.
        let at = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                bytes.len(),
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                &file,
                0,
            )
        }
        .expect("mmap");
        // SAFETY: the mapping above, `bytes.len()` long, alive until munmap below.
        let mapped = unsafe { std::slice::from_raw_parts(at as *const u8, bytes.len()) };
        let sum = |m: &[u8]| m.iter().map(|&b| b as u64).sum::<u64>();
        assert_eq!(sum(mapped), sum(&bytes), "read once: resident");
        let resident = || {
            let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
            let mut lines = smaps.lines().skip_while(|l| !l.ends_with("model.tflite"));
            lines
                .find_map(|l| l.strip_prefix("Rss:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<usize>().ok())
                .expect("the mapping's Rss")
        };
        assert!(resident() >= 4096, "{} kB resident", resident());
        assert_eq!(release(&path), bytes.len());
        assert_eq!(resident(), 0);
        assert_eq!(sum(mapped), sum(&bytes), "read again from the file");
        // SAFETY: unmapping the mapping made above; `mapped` is not used after.
        unsafe { rustix::mm::munmap(at, bytes.len()) }.expect("munmap");
        assert_eq!(release(&path), 0, "no longer mapped");
    }
}
