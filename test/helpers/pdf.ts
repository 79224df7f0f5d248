/**
 * Text of a PDF, page by page, as a reader sees it: pdf.js (legacy build, Node 20) parses the
 * file and extracts each page's text items, joined with spaces.
 */
export async function pdfText(data: Uint8Array): Promise<string> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // pdf.js may keep the buffer it is given: hand it a copy.
  const doc = await pdfjs.getDocument({
    data: new Uint8Array(data),
    isEvalSupported: false,
    useSystemFonts: false,
  }).promise;
  try {
    const pages: string[] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const content = await (await doc.getPage(i)).getTextContent();
      pages.push(
        content.items
          .map((item) => ('str' in item ? item.str : ''))
          .filter((s) => s.trim() !== '')
          .join(' '),
      );
    }
    return pages.join('\n');
  } finally {
    await doc.destroy();
  }
}
