using static PaddedAttention.Tests.Reference.ElementConversions;

namespace PaddedAttention.Tests.Support;

/// <summary>
/// Scatters a logical right-padded cache [batch, capacity, kv_heads, head_dim] over pages through a
/// block table, as the paged scenarios hand it to the library: physical pages in a shuffled order,
/// rows 1.. on row 0's first <c>share</c> pages (the caller makes those keys equal), two pages no row
/// uses, NaN in every unused page and slot, -1 in the unused table entries.
/// </summary>
public static class PagedCache
{
    public static (int[] Table, T[] KPages, T[] VPages, int Pages) Scatter<T>(T[] kT, T[] vT, int[] kvLens, int capacity,
        int maxPages, int pageSize, int rowElems, int share, Random rng) where T : unmanaged
    {
        int batch = kvLens.Length, ps = pageSize;
        int[] table = Enumerable.Repeat(-1, batch * maxPages).ToArray();
        int pages = 0;
        for (int b = 0; b < batch; b++)
            for (int e = 0; e < (kvLens[b] + ps - 1) / ps; e++)
                table[b * maxPages + e] = b > 0 && e < share ? table[e] : pages++;
        pages += 2;
        int[] order = Enumerable.Range(0, pages).OrderBy(_ => rng.Next()).ToArray();
        for (int i = 0; i < table.Length; i++)
            if (table[i] >= 0) table[i] = order[table[i]];
        T[] nan = FromFloats<T>(new[] { float.NaN });
        T[] kp = Enumerable.Repeat(nan[0], pages * ps * rowElems).ToArray();
        T[] vp = Enumerable.Repeat(nan[0], pages * ps * rowElems).ToArray();
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < kvLens[b]; j++)
            {
                long src = ((long)b * capacity + j) * rowElems;
                long dst = ((long)table[b * maxPages + j / ps] * ps + j % ps) * rowElems;
                Array.Copy(kT, src, kp, dst, rowElems);
                Array.Copy(vT, src, vp, dst, rowElems);
            }
        return (table, kp, vp, pages);
    }
}
