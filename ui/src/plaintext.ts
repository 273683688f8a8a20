// The inbox shows one line of a pause's Markdown description as plain text. Loading marked and
// DOMPurify for that would cost the inbox ~40 KB, so this strips the syntax a first line
// usually has. The result is rendered as a React text node, so nothing in it can become markup.

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function markdownToText(line: string): string {
  let text = line.trim();
  const heading = /^#{1,6}\s/.test(text);
  text = text.replace(/^(?:#{1,6}\s+|>\s*)+/, ''); // heading and quote markers
  if (heading) text = text.replace(/\s+#+\s*$/, ''); // a heading's closing hashes
  text = text.replace(/^(?:[-*+]\s+|\d+[.)]\s+)/, ''); // a list item's bullet
  text = text.replace(/^\[[ xX]\]\s+/, ''); // a task's checkbox
  text = text.replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1'); // images: their alt text
  text = text.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'); // links: their text
  text = text.replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1'); // reference links
  text = text.replace(/<\/?[a-zA-Z][^>]*>/g, ''); // inline HTML tags
  text = text.replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, '$1'); // bold
  text = text.replace(/(^|\W)__(?=\S)(.+?)(?<=\S)__(?!\w)/g, '$1$2'); // (not inside snake_case)
  text = text.replace(/\*(?=\S)(.+?)(?<=\S)\*/g, '$1'); // italics
  text = text.replace(/(^|\W)_(?=\S)(.+?)(?<=\S)_(?!\w)/g, '$1$2');
  text = text.replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '$1'); // strikethrough
  text = text.replace(/`+([^`]+)`+/g, '$1'); // inline code
  text = text.replace(/\\([\\`*_{}[\]()#+\-.!>~|])/g, '$1'); // backslash escapes
  text = text.replace(/&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);/g, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
  return text.trim();
}
