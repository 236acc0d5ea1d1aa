//! Server-sent events (the hub's live review stream) as the client reads them: bytes in, whole
//! frames out, each split into its fields. Pure: no I/O.

/// The largest SSE frame read (review events carry no payload: a frame is a few KiB).
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// One frame's fields. Unknown fields are left out; `data` lines are joined with `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// It held a comment line (the hub's greeting and keep-alives).
    pub comment: bool,
    pub event: Option<String>,
    /// The last `id` line's value.
    pub id: Option<String>,
    pub data: String,
}

impl Frame {
    /// A frame's text, without the blank line that ended it.
    pub fn parse(frame: &str) -> Frame {
        let mut out = Frame::default();
        for line in frame.lines() {
            if line.starts_with(':') {
                out.comment = true;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => out.event = Some(value.to_owned()),
                "id" => out.id = Some(value.to_owned()),
                "data" => {
                    if !out.data.is_empty() {
                        out.data.push('\n');
                    }
                    out.data.push_str(value);
                }
                _ => {}
            }
        }
        out
    }
}

/// The buffer held more than [`MAX_FRAME_BYTES`] and no complete frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Overflow;

/// The bytes of a stream not yet read as frames.
#[derive(Debug, Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    /// Appends a chunk of the stream (`\r` dropped, so CRLF and LF lines read alike). Fails,
    /// without clearing, when the buffer is over the limit with no frame end in it.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Overflow> {
        self.buf.extend(chunk.iter().copied().filter(|b| *b != b'\r'));
        if self.buf.len() > MAX_FRAME_BYTES && !self.buf.windows(2).any(|w| w == b"\n\n") {
            return Err(Overflow);
        }
        Ok(())
    }

    /// Removes and returns the first complete frame (up to a blank line).
    pub fn next_frame(&mut self) -> Option<Frame> {
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
        Some(Frame::parse(&String::from_utf8_lossy(&frame[..end])))
    }

    /// What is left of an unfinished frame.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_without_end_beyond_the_limit_overflows_and_complete_frames_do_not() {
        let mut endless = FrameBuffer::default();
        let mut line = b"data: ".to_vec();
        line.resize(MAX_FRAME_BYTES, b'x');
        assert_eq!(endless.push(&line), Ok(()));
        assert_eq!(endless.push(b"x"), Err(Overflow));
        // A burst of complete frames may be larger than the limit in all.
        let mut burst = Vec::new();
        while burst.len() <= MAX_FRAME_BYTES {
            burst.extend_from_slice(b"event: created\nid: e-1\ndata: {}\n\n");
        }
        assert_eq!(FrameBuffer::default().push(&burst), Ok(()));
    }

    #[test]
    fn frames_split_on_blank_lines_and_keep_partial_input() {
        let mut buf = FrameBuffer::default();
        buf.push(b": subscribed\r\n\r\nevent: created\nid: e-1\ndata: {}\n\nevent: dec").unwrap();
        assert_eq!(buf.next_frame(), Some(Frame { comment: true, ..Frame::default() }));
        let created =
            Frame { event: Some("created".into()), id: Some("e-1".into()), data: "{}".into(), comment: false };
        assert_eq!(buf.next_frame(), Some(created));
        assert_eq!(buf.next_frame(), None);
        assert_eq!(buf.pending(), b"event: dec");
    }

    #[test]
    fn fields() {
        let f = Frame::parse("data:a\ndata: b\nid:1\nid: 2\nretry: 5\nevent\n: hi");
        assert_eq!(f, Frame { comment: true, event: Some(String::new()), id: Some("2".into()), data: "a\nb".into() });
    }
}
